/* The officials' report pages: a response template fills the answer box, and a moderator may
   draw the areas to black out on a photo. Both only help: without JavaScript the template is
   put in the box by the server ("Put the template's text in the answer") and the areas are
   typed as numbers. */
(function () {
  "use strict";

  function ready(fn) {
    if (document.readyState !== "loading") {
      fn();
    } else {
      document.addEventListener("DOMContentLoaded", fn);
    }
  }

  function templates() {
    document.querySelectorAll("select[data-fill]").forEach(function (select) {
      var target = document.getElementById(select.getAttribute("data-fill"));
      if (!target) {
        return;
      }
      var fallback = select.parentNode.querySelector("[data-without-js]");
      if (fallback) {
        fallback.hidden = true;
      }
      select.addEventListener("change", function () {
        var option = select.options[select.selectedIndex];
        var body = option ? option.getAttribute("data-body") : null;
        if (body === null) {
          return;
        }
        target.value = body;
        target.dispatchEvent(new Event("input", { bubbles: true }));
      });
    });
  }

  function drawer() {
    var boxes = document.getElementById("id_redact_photo-boxes");
    var media = document.getElementById("id_redact_photo-photo");
    if (!boxes || !media) {
      return;
    }
    document.querySelectorAll("[data-redact-media]").forEach(function (stage) {
      var image = stage.querySelector("img");
      var naturalWidth = parseInt(stage.getAttribute("data-natural-width"), 10) || 0;
      var naturalHeight = parseInt(stage.getAttribute("data-natural-height"), 10) || 0;
      var start = null;
      var shape = null;

      function point(event) {
        var rect = image.getBoundingClientRect();
        return {
          x: Math.max(0, Math.min(event.clientX - rect.left, rect.width)),
          y: Math.max(0, Math.min(event.clientY - rect.top, rect.height)),
          width: rect.width,
          height: rect.height,
        };
      }

      stage.addEventListener("pointerdown", function (event) {
        if (event.button !== 0) {
          return;
        }
        event.preventDefault();
        start = point(event);
        shape = document.createElement("span");
        shape.className = "redact-box";
        stage.appendChild(shape);
        stage.setPointerCapture(event.pointerId);
      });

      stage.addEventListener("pointermove", function (event) {
        if (!start || !shape) {
          return;
        }
        var now = point(event);
        shape.style.left = Math.min(start.x, now.x) + "px";
        shape.style.top = Math.min(start.y, now.y) + "px";
        shape.style.width = Math.abs(now.x - start.x) + "px";
        shape.style.height = Math.abs(now.y - start.y) + "px";
      });

      stage.addEventListener("pointerup", function (event) {
        if (!start || !shape) {
          return;
        }
        var end = point(event);
        var scaleX = (naturalWidth || image.naturalWidth) / end.width;
        var scaleY = (naturalHeight || image.naturalHeight) / end.height;
        var x = Math.round(Math.min(start.x, end.x) * scaleX);
        var y = Math.round(Math.min(start.y, end.y) * scaleY);
        var w = Math.round(Math.abs(end.x - start.x) * scaleX);
        var h = Math.round(Math.abs(end.y - start.y) * scaleY);
        start = null;
        if (w < 2 || h < 2) {
          shape.remove();
          shape = null;
          return;
        }
        shape = null;
        var chosen = stage.getAttribute("data-redact-media");
        if (media.value !== chosen) {
          // Another photo: its areas start afresh.
          media.value = chosen;
          boxes.value = "";
          document.querySelectorAll(".redact-box").forEach(function (old) {
            if (!stage.contains(old)) {
              old.remove();
            }
          });
        }
        boxes.value = (boxes.value.trim() ? boxes.value.trim() + "\n" : "") + [x, y, w, h].join(",");
        var panel = document.getElementById("action-redact_photo");
        if (panel) {
          panel.open = true;
        }
      });
    });
  }

  ready(function () {
    templates();
    drawer();
  });
})();
