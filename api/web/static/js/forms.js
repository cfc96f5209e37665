// Client-side hints: the browser's own checks (required, min/max, pattern, type) shown beside a field as
// the user leaves it. The form still posts without them: the server's validation is the one that counts.
(function () {
  function hintFor(input) {
    const field = input.closest(".field");
    if (!field) return null;
    let hint = field.querySelector(".client-hint");
    if (!hint) {
      hint = document.createElement("span");
      hint.className = "client-hint";
      hint.setAttribute("aria-live", "polite");
      field.appendChild(hint);
    }
    return hint;
  }
  function check(input) {
    const hint = hintFor(input);
    if (!hint) return;
    hint.textContent = input.checkValidity() ? "" : input.validationMessage;
    input.closest(".field").classList.toggle("has-hint", !input.checkValidity());
  }
  document.querySelectorAll("form[data-hints]").forEach(function (form) {
    form.querySelectorAll("input, select, textarea").forEach(function (input) {
      input.addEventListener("blur", function () { check(input); });
      input.addEventListener("input", function () { if (input.closest(".has-hint")) check(input); });
    });
    form.addEventListener("submit", function () {
      form.querySelectorAll("button[type=submit]").forEach(function (b) { b.disabled = true; });
    });
  });
})();
