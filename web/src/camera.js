// Camera barcode scanning with the browser's BarcodeDetector. Loaded with a dynamic import the
// first time someone taps the camera button, so it costs the first load nothing.

const SAME_CODE_MS = 1500; // the same code seen again this soon is the same item still in view

/** Start the back camera into `video`; onCode(code) per barcode seen. Resolves with stop(). */
export async function startCamera(video, onCode) {
  const detector = new globalThis.BarcodeDetector();
  const stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: 'environment' }, audio: false });
  video.srcObject = stream;
  await video.play().catch(() => {});
  let stopped = false;
  let last = { code: '', at: 0 };
  async function tick() {
    if (stopped) return;
    try {
      const found = await detector.detect(video);
      const code = found[0]?.rawValue;
      const now = Date.now();
      if (code && (code !== last.code || now - last.at > SAME_CODE_MS)) onCode(code);
      if (code) last = { code, at: now };
    } catch { /* a frame not ready yet */ }
    if (!stopped) setTimeout(tick, 150);
  }
  tick();
  return () => {
    stopped = true;
    for (const track of stream.getTracks()) track.stop();
    video.srcObject = null;
  };
}
