"use strict";
// The kiosk page's service worker (served as /kiosk/sw.js, scope /kiosk): keeps the page and its
// files so the kiosk opens and works while the API does not answer. Network first (a kiosk
// always runs the newest page it can get), the copy kept here otherwise. API calls are never
// cached: the page keeps its own outbox and configuration in IndexedDB.
const CACHE = "sanjiang-kiosk-1";
const SHELL = ["/kiosk", "/static/kiosk/kiosk.css", "/static/kiosk/kiosk.js", "/static/favicon.svg"];
const OPTIONAL = ["/static/vendor/fonts.css"];

self.addEventListener("install", (event) => {
  event.waitUntil((async () => {
    const cache = await caches.open(CACHE);
    await cache.addAll(SHELL);
    for (const url of OPTIONAL) {
      try {
        const response = await fetch(url);
        if (response.ok) await cache.put(url, response);
      } catch (e) { /* not served here */ }
    }
    await self.skipWaiting();
  })());
});

self.addEventListener("activate", (event) => {
  event.waitUntil((async () => {
    for (const name of await caches.keys()) if (name !== CACHE) await caches.delete(name);
    await self.clients.claim();
  })());
});

const kept = (url) => url.pathname === "/kiosk" || url.pathname.startsWith("/static/");

self.addEventListener("fetch", (event) => {
  const url = new URL(event.request.url);
  if (event.request.method !== "GET" || url.origin !== self.location.origin || !kept(url)) return;
  event.respondWith((async () => {
    const cache = await caches.open(CACHE);
    try {
      const response = await fetch(event.request);
      if (response.ok) await cache.put(event.request, response.clone());
      return response;
    } catch (e) {
      const copy = await cache.match(event.request, {ignoreSearch: true});
      if (copy) return copy;
      throw e;
    }
  })());
});
