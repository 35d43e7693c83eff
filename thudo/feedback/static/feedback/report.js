/* The report form's small helps: a character counter, and the place where a chosen photo was
   taken (read on the server from the photo's EXIF; nothing is stored) offered as a button.
   Without it the form works the same: the server offers the photo's place when no place is
   given. The texts come from the page's map settings (json_script "feedback-map-config"). */
(function () {
  "use strict";

  var configNode = document.getElementById("feedback-map-config");
  var config = configNode ? JSON.parse(configNode.textContent) : {};
  var text = config.text || {};
  var MAX_PHOTOS = 5;

  function format(message, n) {
    return String(message || "").replace("%(n)s", String(n));
  }

  // --- character counter ---------------------------------------------------------------------
  Array.prototype.forEach.call(document.querySelectorAll("[data-counter-for]"), function (counter) {
    var id = counter.getAttribute("data-counter-for");
    var field = document.getElementById(id);
    var live = document.querySelector('[data-counter-live="' + id + '"]');
    var max = field ? parseInt(field.getAttribute("maxlength"), 10) : NaN;
    if (!field || !isFinite(max)) {
      return;
    }
    var timer = null;
    function update(announce) {
      var left = max - field.value.length;
      var message = left >= 0 ? format(text.charsLeft, left) : format(text.charsOver, -left);
      counter.textContent = message;
      counter.classList.toggle("fb-over", left < 0);
      if (announce && live) {
        // Screen readers hear the count once typing pauses, not at every key.
        window.clearTimeout(timer);
        timer = window.setTimeout(function () {
          live.textContent = message;
        }, 1200);
      }
    }
    field.addEventListener("input", function () {
      update(true);
    });
    update(false);
  });

  // --- the place where the photo was taken ---------------------------------------------------
  var input = document.querySelector("[data-photo-input]");
  var offer = document.querySelector("[data-photo-offer]");
  var button = document.querySelector("[data-use-photo-position]");
  var status = document.querySelector("[data-photo-status]");
  var form = input ? input.form : null;
  var token = form ? form.querySelector("input[name=csrfmiddlewaretoken]") : null;
  var lat = document.getElementById("id_latitude");
  var lng = document.getElementById("id_longitude");
  if (!input || !offer || !button || !lat || !lng || !config.photoPositionUrl || !window.fetch) {
    return;
  }
  var found = null;
  var round = 0;

  function say(message) {
    if (status) {
      status.textContent = message || "";
    }
  }

  function ask(photos, index, mine) {
    if (mine !== round) {
      return; // another choice of files started meanwhile
    }
    if (index >= photos.length) {
      say(text.photoNone);
      return;
    }
    var body = new FormData();
    body.append("photo", photos[index]);
    fetch(config.photoPositionUrl, {
      method: "POST",
      body: body,
      credentials: "same-origin",
      headers: { "X-CSRFToken": token ? token.value : "" },
    })
      .then(function (response) {
        return response.ok ? response.json() : {};
      })
      .then(function (data) {
        if (mine !== round) {
          return;
        }
        if (data && typeof data.lat === "number" && typeof data.lng === "number") {
          found = data;
          say(text.photoFound);
          button.hidden = false;
        } else {
          ask(photos, index + 1, mine);
        }
      })
      .catch(function () {
        if (mine === round) {
          say(text.photoNone);
        }
      });
  }

  input.addEventListener("change", function () {
    round += 1;
    found = null;
    button.hidden = true;
    var photos = Array.prototype.filter
      .call(input.files || [], function (file) {
        return /^image\//.test(file.type);
      })
      .slice(0, MAX_PHOTOS);
    offer.hidden = photos.length === 0;
    if (photos.length) {
      say(text.photoLooking);
      ask(photos, 0, round);
    }
  });

  button.addEventListener("click", function () {
    if (!found) {
      return;
    }
    lat.value = Number(found.lat).toFixed(6);
    lng.value = Number(found.lng).toFixed(6);
    // map.js moves the marker and the htmx check runs on this change.
    lng.dispatchEvent(new Event("change", { bubbles: true }));
    say(text.photoUsed);
    lat.focus();
  });
})();
