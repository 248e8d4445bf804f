"use strict";
// How a page reads the live views: the one place. followLive(onView, onState) follows
// /v1/live/stream (server-sent events, one event per changed view), reconnects by itself
// (EventSource's retry, and a watchdog when nothing arrives for a while) and reports its
// state: "live", "reconnecting" or "down" (no data for longer than the watchdog's limit).
window.followLive = function followLive(onView, onState, options = {}) {
  const quietLimitMs = options.quietLimitMs || 45000;  // the views tick every second or two
  let source = null, lastSeen = Date.now(), state = "";
  const report = (s) => { if (s !== state) { state = s; onState(s); } };
  const open = () => {
    if (source) source.close();
    source = new EventSource("/v1/live/stream");
    source.onopen = () => { lastSeen = Date.now(); report("live"); };
    source.onerror = () => report(source.readyState === EventSource.CLOSED ? "down" : "reconnecting");
    source.onmessage = () => { lastSeen = Date.now(); };
    for (const view of options.views || []) {
      source.addEventListener(view, (e) => {
        lastSeen = Date.now();
        report("live");
        onView(view, JSON.parse(e.data));
      });
    }
    if (options.prefixes) {
      // views named "<prefix><id>" (station:WS-C…) cannot be listed up front: the server
      // sends each under its own event name, so listen for the known ids
      for (const [prefix, ids] of Object.entries(options.prefixes)) {
        for (const id of ids) {
          source.addEventListener(prefix + id, (e) => { lastSeen = Date.now(); onView(prefix + id, JSON.parse(e.data)); });
        }
      }
    }
  };
  setInterval(() => {
    if (Date.now() - lastSeen > quietLimitMs) { report("down"); lastSeen = Date.now(); open(); }
    else if (source && source.readyState === EventSource.CLOSED) { report("down"); open(); }
  }, 5000);
  open();
};
