// Progressive enhancement for the client portal. Everything works without this file.
(function () {
  "use strict";

  // The status form: the "what blocks it?" box only matters when "Blocked" is chosen.
  document.querySelectorAll("form.js-status-form").forEach(function (form) {
    var field = form.querySelector("#blocked-reason-field");
    if (!field) return;
    var reason = field.querySelector("textarea");
    function sync() {
      var chosen = form.querySelector('input[name="status"]:checked');
      var blocked = chosen && chosen.value === "blocked";
      var hasError = field.querySelector(".field-error") !== null;
      field.hidden = !(blocked || hasError);
      if (reason) reason.required = !!blocked;
    }
    form.addEventListener("change", sync);
    sync();
  });

  // File uploads: say at once when a file is over the limit instead of after the upload.
  document.querySelectorAll('input[type="file"][data-max-bytes]').forEach(function (input) {
    input.addEventListener("change", function () {
      var max = parseInt(input.getAttribute("data-max-bytes"), 10);
      var file = input.files && input.files[0];
      input.setCustomValidity(
        file && file.size > max ? "This file is larger than the limit." : ""
      );
      input.reportValidity();
    });
  });
})();
