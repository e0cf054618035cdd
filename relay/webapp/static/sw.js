// Service worker: keeps the app shell so the app opens at once and offline, and shows the
// notifications the relay pushes. Only registered in a secure context (HTTPS or localhost).
// API calls (/v1, /api) always go to the network: state must never come from a stale cache.

const VERSION = "__APP_VERSION__";
const CACHE = `homehub-shell-${VERSION}`;
const BASE = "__ASSET_BASE__";
// Filled in by the server: "/", the manifest and every versioned file of this release.
const SHELL = "__SHELL_FILES__";

self.addEventListener("install", (event) => {
  event.waitUntil(
    caches.open(CACHE).then((cache) => cache.addAll(SHELL)).then(() => self.skipWaiting()),
  );
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches
      .keys()
      .then((keys) => Promise.all(keys.filter((k) => k.startsWith("homehub-shell-") && k !== CACHE).map((k) => caches.delete(k))))
      .then(() => self.clients.claim()),
  );
});

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (url.pathname.startsWith("/app/v-")) {
    // Versioned files never change: cache first.
    event.respondWith(
      caches.match(request).then((hit) => hit || fetch(request).then((response) => {
        const copy = response.clone();
        if (response.ok) caches.open(CACHE).then((cache) => cache.put(request, copy));
        return response;
      })),
    );
    return;
  }
  if (url.pathname === "/app-config.json") {
    // Which server this is (relay or hub): fresh when online, remembered for offline starts.
    event.respondWith(
      fetch(request)
        .then((response) => {
          const copy = response.clone();
          if (response.ok) caches.open(CACHE).then((cache) => cache.put("/app-config.json", copy));
          return response;
        })
        .catch(() => caches.match("/app-config.json")),
    );
    return;
  }
  if (request.mode === "navigate") {
    // The page: fresh from the network when it answers, else the cached shell.
    event.respondWith(fetch(request).catch(() => caches.match("/")));
  }
});

self.addEventListener("push", (event) => {
  let data = {};
  try {
    data = event.data ? event.data.json() : {};
  } catch {
    data = { title: "homehub", body: event.data ? event.data.text() : "" };
  }
  const title = data.title || "homehub";
  const options = {
    body: data.body || "",
    tag: data.thread || data.notification_id || undefined,
    renotify: Boolean(data.thread),
    icon: `${BASE}/icons/icon-192.png`,
    badge: `${BASE}/icons/icon-192.png`,
    data: { url: data.url || (data.hub_id ? `/#/h/${encodeURIComponent(data.hub_id)}/inbox` : "/") },
  };
  event.waitUntil(self.registration.showNotification(title, options));
});

self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  const target = (event.notification.data && event.notification.data.url) || "/";
  event.waitUntil(
    self.clients.matchAll({ type: "window", includeUncontrolled: true }).then((windows) => {
      for (const client of windows) {
        if ("focus" in client) {
          client.navigate(target);
          return client.focus();
        }
      }
      return self.clients.openWindow(target);
    }),
  );
});
