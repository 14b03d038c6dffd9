// Live preview on the branding settings page: after each edit (debounced), point the preview
// frame at /app/settings/branding/preview with the form's current values as GET parameters. The
// server validates them with the same form as a save; invalid values fall back to saved ones.
// The logo is not previewed before saving (a file cannot travel in a URL).
(function () {
  "use strict";
  var form = document.getElementById("branding-form");
  var frame = document.getElementById("branding-preview");
  if (!form || !frame) return;
  var state = document.getElementById("preview-state");
  var base = frame.getAttribute("data-preview-base");
  var fields = ["portal_name", "email_sender_name", "primary_color", "accent_color",
                "welcome_message", "welcome_video_url"];
  var timer = null;
  var lastUrl = frame.getAttribute("src");

  function previewUrl() {
    var params = new URLSearchParams();
    fields.forEach(function (name) {
      var input = form.elements.namedItem(name);
      if (input) params.set(name, input.value);
    });
    return base + "?" + params.toString();
  }

  function refresh() {
    timer = null;
    var url = previewUrl();
    if (url === lastUrl) return;
    lastUrl = url;
    frame.classList.add("loading");
    if (state) state.textContent = "(updating…)";
    frame.setAttribute("src", url);
  }

  function schedule(event) {
    if (!event.target || fields.indexOf(event.target.name) === -1) return;
    if (timer !== null) clearTimeout(timer);
    timer = setTimeout(refresh, 250);
  }

  frame.addEventListener("load", function () {
    frame.classList.remove("loading");
    if (state) state.textContent = lastUrl.indexOf("?") === -1 ? "" : "(unsaved changes)";
  });
  form.addEventListener("input", schedule);
  form.addEventListener("change", schedule);
})();
