// the process editor: bpmn-js modeler with the Camunda properties panel (see editor area)
