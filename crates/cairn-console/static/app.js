// Cairn console: progressive enhancement only; every page works without it.
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  // Show the fields of the chosen option: <div data-show-when="radioName=value">.
  var dependents = document.querySelectorAll("[data-show-when]");
  function sync() {
    dependents.forEach(function (el) {
      var parts = el.getAttribute("data-show-when").split("=");
      var chosen = document.querySelector('input[name="' + parts[0] + '"]:checked');
      el.hidden = !!chosen && chosen.value !== parts[1];
    });
  }
  document.querySelectorAll("input[type=radio]").forEach(function (r) {
    r.addEventListener("change", sync);
  });
  sync();
  // Move keyboard focus to an error so screen-reader and keyboard users land on it.
  var alert = document.querySelector(".alert.error");
  if (alert) { alert.focus(); }
});
