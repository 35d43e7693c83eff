/* A stop's next buses: refreshed every 20 s from arrivals.json (the times count down locally in
   between, and stay on screen with a "no connection" note when a refresh fails), and "remind
   me" per bus: when it is 2, 5 or 10 minutes away the page shows an alert (role="alert"),
   vibrates and, if the rider allowed it, shows a notification. Reminders are kept in this
   browser only (localStorage). The server-rendered table works without this script. */
(function () {
  "use strict";

  var configNode = document.getElementById("transit-stop-config");
  var tbody = document.querySelector("[data-arrival-rows]");
  if (!configNode || !tbody || !window.fetch) {
    return;
  }
  var config = JSON.parse(configNode.textContent);
  var text = config.text || {};
  var STORE = "thudo.transit.reminders";
  var offset = (config.nowTs || Date.now()) - Date.now(); // server clock minus this clock
  var data = config.initial || { arrivals: [], alerts: [] };
  var openKey = null;
  var fired = {};

  var summary = document.querySelector("[data-summary]");
  var offline = document.querySelector("[data-offline]");
  var empty = document.querySelector("[data-empty]");
  var alertBox = document.querySelector("[data-reminder-alert]");
  var remindStatus = document.querySelector("[data-remind-status]");
  var remindHelp = document.querySelector("[data-remind-help]");
  var alertSection = document.querySelector("[data-alerts]");
  if (remindHelp) {
    remindHelp.hidden = false;
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

  // --- reminders (localStorage) ----------------------------------------------------------
  function loadReminders() {
    try {
      var all = JSON.parse(window.localStorage.getItem(STORE) || "{}");
      return all && typeof all === "object" ? all : {};
    } catch (e) {
      return {};
    }
  }

  function saveReminders(all) {
    try {
      window.localStorage.setItem(STORE, JSON.stringify(all));
    } catch (e) {
      /* private mode: reminders last as long as the page */
    }
  }

  var reminders = loadReminders();

  function reminderFor(key) {
    var r = reminders[config.stopId + "#" + key];
    return r || null;
  }

  function setReminder(arrival, n) {
    reminders[config.stopId + "#" + arrival.key] = {
      n: n,
      number: arrival.route_short_name,
      headsign: arrival.headsign,
      expires: arrival.when_ts + 30 * 60000,
    };
    saveReminders(reminders);
    delete fired[arrival.key];
    remindStatus.textContent = format(text.remindSaved, { number: arrival.route_short_name, n: n });
    if ("Notification" in window && window.Notification.permission === "default") {
      try {
        window.Notification.requestPermission();
      } catch (e) {
        /* older browsers: callback form only; the in-page alert still works */
      }
    }
  }

  function cancelReminder(key) {
    delete reminders[config.stopId + "#" + key];
    saveReminders(reminders);
    remindStatus.textContent = text.remindCancelled;
  }

  function pruneReminders() {
    var t = now();
    Object.keys(reminders).forEach(function (id) {
      if (!reminders[id] || reminders[id].expires < t) {
        delete reminders[id];
      }
    });
    saveReminders(reminders);
  }

  function notify(key, message) {
    alertBox.textContent = "";
    window.setTimeout(function () {
      alertBox.textContent = message; // role="alert": read out at once
    }, 50);
    if (navigator.vibrate) {
      navigator.vibrate([300, 150, 300]);
    }
    if (!("Notification" in window) || window.Notification.permission !== "granted") {
      return;
    }
    var options = { body: message, tag: "thudo-transit-" + key, renotify: true };
    var shown = false;
    if (navigator.serviceWorker && navigator.serviceWorker.ready) {
      navigator.serviceWorker.ready
        .then(function (registration) {
          shown = true;
          return registration.showNotification(text.notifyTitle, options);
        })
        .catch(function () {
          if (!shown) {
            try {
              new window.Notification(text.notifyTitle, options);
            } catch (e) {
              /* the in-page alert is enough */
            }
          }
        });
    } else {
      try {
        new window.Notification(text.notifyTitle, options);
      } catch (e) {
        /* the in-page alert is enough */
      }
    }
  }

  function checkReminders() {
    (data.arrivals || []).forEach(function (arrival) {
      var reminder = reminderFor(arrival.key);
      if (!reminder || fired[arrival.key]) {
        return;
      }
      var n = minutesUntil(arrival.when_ts);
      if (n > reminder.n) {
        return;
      }
      fired[arrival.key] = true;
      var values = {
        number: arrival.route_short_name,
        headsign: arrival.headsign,
        n: n,
        stop: config.stopName,
      };
      notify(arrival.key, format(n <= 0 ? text.remindArriving : text.remindNow, values));
      cancelReminder(arrival.key);
      remindStatus.textContent = "";
      render();
    });
  }

  // --- drawing ---------------------------------------------------------------------------
  function svgIcon(id) {
    var ns = "http://www.w3.org/2000/svg";
    var svg = document.createElementNS(ns, "svg");
    svg.setAttribute("class", "icon");
    svg.setAttribute("aria-hidden", "true");
    var use = document.createElementNS(ns, "use");
    use.setAttribute("href", "#" + id);
    svg.appendChild(use);
    return svg;
  }

  function el(tag, className, content) {
    var node = document.createElement(tag);
    if (className) {
      node.className = className;
    }
    if (content !== undefined && content !== null) {
      node.textContent = content;
    }
    return node;
  }

  function hidden(content) {
    return el("span", "visually-hidden", content);
  }

  function remindCell(arrival, index) {
    var box = el("div", "tr-remind");
    var minutes = minutesUntil(arrival.when_ts);
    var choices = (config.choices || []).filter(function (n) {
      return n < minutes;
    });
    var reminder = reminderFor(arrival.key);
    if (!choices.length && !reminder) {
      return box;
    }
    var panelId = "tr-remind-" + index;
    var button = el("button", "tr-remind-button");
    button.type = "button";
    button.setAttribute("aria-expanded", openKey === arrival.key ? "true" : "false");
    button.setAttribute("aria-controls", panelId);
    button.setAttribute("data-focus", arrival.key + "|main");
    button.appendChild(svgIcon("i-bell"));
    var label = reminder ? format(text.remindSet, { n: reminder.n }) : text.remind;
    button.appendChild(el("span", "", label));
    button.setAttribute(
      "aria-label",
      label +
        " — " +
        format(text.remindLabel, { number: arrival.route_short_name, headsign: arrival.headsign })
    );
    if (reminder) {
      button.setAttribute("aria-pressed", "true");
    }
    var panel = el("div", "tr-remind-choices");
    panel.id = panelId;
    panel.setAttribute("role", "group");
    panel.setAttribute(
      "aria-label",
      format(text.remindLabel, { number: arrival.route_short_name, headsign: arrival.headsign })
    );
    panel.hidden = openKey !== arrival.key;
    choices.forEach(function (n) {
      var choice = el("button", "tr-remind-button", format(text.remindChoice, { n: n }));
      choice.type = "button";
      choice.setAttribute("data-focus", arrival.key + "|" + n);
      if (reminder && reminder.n === n) {
        choice.setAttribute("aria-pressed", "true");
      }
      choice.addEventListener("click", function () {
        setReminder(arrival, n);
        openKey = null;
        render(arrival.key + "|main");
      });
      panel.appendChild(choice);
    });
    if (reminder) {
      var cancel = el("button", "tr-remind-button", text.remindCancel);
      cancel.type = "button";
      cancel.setAttribute("data-focus", arrival.key + "|cancel");
      cancel.addEventListener("click", function () {
        cancelReminder(arrival.key);
        openKey = null;
        render(arrival.key + "|main");
      });
      panel.appendChild(cancel);
    }
    button.addEventListener("click", function () {
      openKey = openKey === arrival.key ? null : arrival.key;
      render(arrival.key + "|main");
    });
    panel.addEventListener("keydown", function (event) {
      if (event.key === "Escape") {
        openKey = null;
        render(arrival.key + "|main");
      }
    });
    box.appendChild(button);
    box.appendChild(panel);
    return box;
  }

  function row(arrival, index) {
    var tr = el("tr", "tr-arr " + (arrival.live ? "tr-arr-live" : "tr-arr-sched"));
    tr.setAttribute("data-key", arrival.key);

    var routeCell = el("td", "tr-arr-route");
    var line = el("div", "tr-arr-line");
    routeCell.appendChild(line);
    var link = el("a", "tr-route");
    link.href = arrival.route_url;
    link.style.background = arrival.route_color;
    link.style.color = arrival.route_text_color;
    link.setAttribute("data-focus", arrival.key + "|route");
    link.appendChild(hidden(text.route + " "));
    link.appendChild(document.createTextNode(arrival.route_short_name));
    line.appendChild(link);
    line.appendChild(document.createTextNode(" "));
    var headsign = el("span", "tr-headsign");
    headsign.appendChild(hidden(text.towards + " "));
    headsign.appendChild(document.createTextNode(arrival.headsign));
    line.appendChild(headsign);

    var whenCell = el("td", "tr-arr-when");
    var minutes = minutesUntil(arrival.when_ts);
    var big = el("span", "tr-big", arrival.live ? minutesText(minutes) : arrival.when_text);
    whenCell.appendChild(big);
    var badge = el("span", "tr-badge " + (arrival.live ? "tr-badge-live" : "tr-badge-sched"));
    badge.appendChild(svgIcon(arrival.live ? "t-live" : "t-clock"));
    badge.appendChild(document.createTextNode(arrival.status_text));
    whenCell.appendChild(badge);
    var detail = el("span", "tr-detail");
    if (arrival.live) {
      var parts = [];
      if (arrival.vehicle_label) {
        parts.push(format(text.vehicle, { label: arrival.vehicle_label }));
      }
      if (arrival.delay_text) {
        parts.push(arrival.delay_text);
      }
      if (arrival.margin_text) {
        parts.push(arrival.margin_text);
      }
      detail.textContent = parts.join(" · ");
    } else {
      detail.textContent = minutesText(minutes);
    }
    whenCell.appendChild(detail);
    whenCell.appendChild(remindCell(arrival, index));
    tr.appendChild(routeCell);
    tr.appendChild(whenCell);
    return tr;
  }

  function renderAlerts(alerts) {
    if (!alertSection) {
      return;
    }
    var list = alertSection.querySelector("[data-alert-list]");
    list.textContent = "";
    (alerts || []).forEach(function (alert) {
      var li = el("li", "tr-alert tr-alert-" + String(alert.severity || "").toLowerCase());
      li.appendChild(svgIcon("t-alert"));
      var body = el("div");
      var head = el("p", "tr-alert-head");
      head.appendChild(el("span", "tr-alert-severity", alert.severity_text + ":"));
      head.appendChild(document.createTextNode(" " + alert.header));
      body.appendChild(head);
      if (alert.description) {
        body.appendChild(el("p", "", alert.description));
      }
      if (alert.until_text) {
        body.appendChild(el("p", "muted", alert.until_text));
      }
      li.appendChild(body);
      list.appendChild(li);
    });
    alertSection.hidden = !(alerts && alerts.length);
  }

  function render(focusId) {
    var active = document.activeElement;
    var keep = focusId || (active && tbody.contains(active) ? active.getAttribute("data-focus") : null);
    tbody.textContent = "";
    (data.arrivals || []).forEach(function (arrival, index) {
      tbody.appendChild(row(arrival, index));
    });
    empty.hidden = (data.arrivals || []).length > 0;
    if (keep) {
      var target = tbody.querySelector('[data-focus="' + keep.replace(/["\\]/g, "\\$&") + '"]');
      if (target) {
        target.focus();
      }
    }
  }

  function tick() {
    tbody.querySelectorAll("tr").forEach(function (tr, index) {
      var arrival = data.arrivals[index];
      if (!arrival) {
        return;
      }
      var n = minutesUntil(arrival.when_ts);
      if (arrival.live) {
        tr.querySelector(".tr-big").textContent = minutesText(n);
      } else {
        tr.querySelector(".tr-detail").textContent = minutesText(n);
      }
    });
    checkReminders();
  }

  function setSummary(message) {
    if (summary && summary.textContent !== message) {
      summary.textContent = message; // polite: read when the next bus or the minute changes
    }
  }

  var lastGood = data.updated_time || "";

  function refresh() {
    tbody.closest("table").setAttribute("aria-busy", "true");
    fetch(config.arrivalsUrl, { headers: { Accept: "application/json" }, credentials: "same-origin" })
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
        render();
        renderAlerts(body.alerts);
        setSummary(body.summary + " " + body.updated_text + ".");
        checkReminders();
      })
      .catch(function () {
        offline.textContent = format(text.offline, { time: lastGood });
        offline.hidden = false;
        tick();
      })
      .then(function () {
        tbody.closest("table").removeAttribute("aria-busy");
      });
  }

  pruneReminders();
  render();
  checkReminders();
  window.setInterval(tick, 15000);
  var timer = window.setInterval(refresh, (config.refreshS || 20) * 1000);
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "visible") {
      window.clearInterval(timer);
      refresh();
      timer = window.setInterval(refresh, (config.refreshS || 20) * 1000);
    }
  });
})();
