// The service worker and Web Push. Browsers allow both only in a secure context (HTTPS, or
// localhost); on a hub's plain-HTTP LAN address the app works without them.

export function canUseWorker() {
  return window.isSecureContext && "serviceWorker" in navigator;
}

export function canPush() {
  return canUseWorker() && "PushManager" in window && "Notification" in window;
}

export function registerServiceWorker() {
  if (!canUseWorker()) return;
  navigator.serviceWorker.register("/sw.js", { scope: "/" }).catch(() => {});
}

function keyBytes(base64url) {
  const padded = base64url.replace(/-/g, "+").replace(/_/g, "/");
  const raw = atob(padded + "=".repeat((4 - (padded.length % 4)) % 4));
  return Uint8Array.from(raw, (c) => c.charCodeAt(0));
}

export async function currentSubscription() {
  if (!canPush()) return null;
  const registration = await navigator.serviceWorker.ready;
  return registration.pushManager.getSubscription();
}

export async function enablePush(api) {
  if (!canPush()) throw new Error("push-unsupported");
  const permission = await Notification.requestPermission();
  if (permission !== "granted") throw new Error("push-denied");
  const registration = await navigator.serviceWorker.ready;
  const key = await api.pushKey();
  let subscription = await registration.pushManager.getSubscription();
  if (!subscription) {
    subscription = await registration.pushManager.subscribe({
      userVisibleOnly: true,
      applicationServerKey: keyBytes(key),
    });
  }
  await api.subscribePush(subscription.toJSON());
  return subscription;
}

export async function disablePush(api) {
  const subscription = await currentSubscription();
  if (!subscription) return;
  await api.unsubscribePush(subscription.endpoint).catch(() => {});
  await subscription.unsubscribe();
}
