/* The shell's small behaviours. Everything works without it; it only adds. */
(function () {
  "use strict";

  var script = document.currentScript;
  var workerUrl = script && script.getAttribute("data-service-worker");
  if (workerUrl && "serviceWorker" in navigator) {
    window.addEventListener("load", function () {
      navigator.serviceWorker.register(workerUrl, { scope: "/" }).catch(function (error) {
        console.warn("Thudo: service worker not registered", error);
      });
    });
  }

  // "Try again" on the offline page reloads the page that failed to load.
  document.addEventListener("click", function (event) {
    var target = event.target instanceof Element ? event.target.closest("[data-reload]") : null;
    if (target) {
      event.preventDefault();
      window.location.reload();
    }
  });
})();
