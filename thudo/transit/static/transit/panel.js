/* The LED stop panel: refreshes itself every 15 s without reloading, counts the minutes down
   between refreshes, keeps the last rows and says "no connection" when a refresh fails, shows
   the alerts in a ticker and reads the announcement aloud (speechSynthesis, vi-VN) on demand or
   automatically (every few minutes and when a bus is about to arrive). */
(function () {
  "use strict";

  var configNode = document.getElementById("transit-panel-config");
  var tbody = document.querySelector("[data-rows]");
  if (!configNode || !tbody || !window.fetch) {
    return;
  }
  var config = JSON.parse(configNode.textContent);
  var text = config.text || {};
  var offset = (config.nowTs || Date.now()) - Date.now();
  var data = config.initial || { arrivals: [], alerts: [] };
  var lastGood = data.updated_time || "";
  var clock = document.querySelector("[data-clock]");
  var offline = document.querySelector("[data-offline]");
  var empty = document.querySelector("[data-empty]");
  var ticker = document.querySelector("[data-ticker]");
  var tickerText = document.querySelector("[data-ticker-text]");
  var controls = document.querySelector("[data-controls]");
  var speakButton = document.querySelector("[data-speak]");
  var autoButton = document.querySelector("[data-auto]");
  var fullButton = document.querySelector("[data-fullscreen]");
  var speechStatus = document.querySelector("[data-speech-status]");
  var auto = false;
  var lastSpoken = 0;
  var announcedSoon = {};
  var clockFormat = null;
  try {
    clockFormat = new Intl.DateTimeFormat("vi-VN", {
      hour: "2-digit",
      minute: "2-digit",
      hour12: false,
      timeZone: "Asia/Ho_Chi_Minh",
    });
  } catch (e) {
    clockFormat = null;
  }

  function format(message, values) {
    return String(message || "").replace(/%\((\w+)\)s/g, function (_, name) {
      return values && name in values ? String(values[name]) : "";
    });
  }

  function now() {
    return Date.now() + offset;
  }

  function minutesUntil(whenTs) {
    return Math.max(0, Math.floor((whenTs - now()) / 60000));
  }

  function minutesText(n) {
    return n <= 0 ? text.arriving : format(text.minutes, { n: n });
  }

  function icon(id, label) {
    var ns = "http://www.w3.org/2000/svg";
    var svg = document.createElementNS(ns, "svg");
    svg.setAttribute("class", "panel-icon");
    svg.setAttribute("role", "img");
    svg.setAttribute("aria-label", label);
    var use = document.createElementNS(ns, "use");
    use.setAttribute("href", "#" + id);
    svg.appendChild(use);
    return svg;
  }

  function cell(className, content) {
    var td = document.createElement("td");
    td.className = className;
    if (content !== undefined) {
      td.textContent = content;
    }
    return td;
  }

  function render() {
    tbody.textContent = "";
    (data.arrivals || []).forEach(function (a) {
      var tr = document.createElement("tr");
      tr.className = a.live ? "panel-live" : "panel-sched";
      tr.appendChild(cell("panel-route", a.route_short_name));
      tr.appendChild(cell("panel-dest", a.headsign));
      var min = cell("panel-min");
      var value = document.createElement("span");
      value.textContent = a.live ? minutesText(minutesUntil(a.when_ts)) : a.when_text;
      min.appendChild(value);
      min.appendChild(icon(a.live ? "t-live" : "t-clock", a.status_text));
      tr.appendChild(min);
      tbody.appendChild(tr);
    });
    empty.hidden = (data.arrivals || []).length > 0;
    var alerts = data.alerts || [];
    tickerText.textContent = "";
    alerts.forEach(function (alert) {
      var span = document.createElement("span");
      span.textContent = "⚠ " + alert.header + (alert.description ? " — " + alert.description : "");
      tickerText.appendChild(span);
    });
    ticker.hidden = alerts.length === 0;
    // about 12 characters a second, whatever the length
    var length = tickerText.textContent.length;
    tickerText.style.setProperty("--ticker-s", Math.max(12, Math.round(length / 12)) + "s");
  }

  function tick() {
    if (clock) {
      clock.textContent = clockFormat
        ? clockFormat.format(new Date(now()))
        : new Date(now()).toTimeString().slice(0, 5);
    }
    var rows = tbody.querySelectorAll("tr");
    (data.arrivals || []).forEach(function (a, i) {
      if (a.live && rows[i]) {
        rows[i].querySelector(".panel-min span").textContent = minutesText(minutesUntil(a.when_ts));
      }
    });
  }

  function refresh() {
    fetch(config.arrivalsUrl, { headers: { Accept: "application/json" }, cache: "no-store" })
      .then(function (response) {
        if (!response.ok) {
          throw new Error(String(response.status));
        }
        return response.json();
      })
      .then(function (body) {
        offset = body.now_ts - Date.now();
        data = body;
        lastGood = body.updated_time;
        offline.hidden = true;
        document.body.classList.remove("panel-stale");
        render();
        autoAnnounce();
      })
      .catch(function () {
        // keep the last rows: the minutes go on counting down from the last data
        offline.textContent = format(text.offline, { time: lastGood });
        offline.hidden = false;
        document.body.classList.add("panel-stale");
        tick();
      });
  }

  // --- speech ----------------------------------------------------------------------------
  var synth = window.speechSynthesis;

  function voiceFor(lang) {
    var voices = synth.getVoices ? synth.getVoices() : [];
    var prefix = lang.slice(0, 2);
    for (var i = 0; i < voices.length; i++) {
      if (voices[i].lang && voices[i].lang.replace("_", "-").indexOf(prefix) === 0) {
        return voices[i];
      }
    }
    return null;
  }

  function speak() {
    if (!synth) {
      speechStatus.textContent = text.noSpeech;
      return;
    }
    lastSpoken = Date.now();
    fetch(config.announcementUrl, { cache: "no-store" })
      .then(function (response) {
        if (!response.ok) {
          throw new Error(String(response.status));
        }
        return response.text();
      })
      .then(function (message) {
        synth.cancel();
        var utterance = new window.SpeechSynthesisUtterance(message.replace(/\n/g, " "));
        utterance.lang = config.speechLang || "vi-VN";
        var voice = voiceFor(utterance.lang);
        if (voice) {
          utterance.voice = voice;
        }
        utterance.rate = 0.95;
        synth.speak(utterance);
      })
      .catch(function () {
        /* offline: nothing new to say */
      });
  }

  function autoAnnounce() {
    if (!auto) {
      return;
    }
    var soon = false;
    (data.arrivals || []).forEach(function (a) {
      if (a.live && minutesUntil(a.when_ts) <= 1 && !announcedSoon[a.key]) {
        announcedSoon[a.key] = true;
        soon = true;
      }
    });
    if (soon || Date.now() - lastSpoken > (config.announceEveryS || 180) * 1000) {
      speak();
    }
  }

  function setAuto(on) {
    auto = on;
    autoButton.setAttribute("aria-pressed", on ? "true" : "false");
    autoButton.textContent = on ? text.autoOn : text.autoOff;
    if (on) {
      lastSpoken = 0;
      autoAnnounce();
    }
  }

  if (controls) {
    controls.hidden = false;
    if (!synth) {
      speakButton.disabled = true;
      autoButton.disabled = true;
      speakButton.title = text.noSpeech;
    }
    speakButton.addEventListener("click", speak);
    autoButton.addEventListener("click", function () {
      setAuto(!auto);
    });
    if (fullButton) {
      if (!document.documentElement.requestFullscreen) {
        fullButton.hidden = true;
      }
      fullButton.addEventListener("click", function () {
        if (document.fullscreenElement) {
          document.exitFullscreen();
        } else {
          document.documentElement.requestFullscreen().catch(function () {});
        }
      });
    }
    if (config.auto && synth) {
      setAuto(true);
    }
  }

  render();
  tick();
  window.setInterval(tick, 5000);
  window.setInterval(refresh, (config.refreshS || 15) * 1000);
})();
