import { request, ApiError, errText } from './api.js';

// WhepPlayer plays one window's live video over WHEP (RFC 9725) and keeps
// it playing: on an ICE failure, a lost session or a stall it reconnects
// with backoff, and it reports why it is not playing through onStatus
// ({kind: connecting|playing|ice|forbidden|error|stalled|unsupported,
// message in the user's language, retryIn}). A camera that drops and returns resumes on the same
// session (the server keeps it), so camera outages are not reconnects.
export class WhepPlayer {
  constructor(windowId, video, onStatus) {
    this.windowId = windowId;
    this.video = video;
    this.onStatus = onStatus || (() => {});
    this.stopped = false;
    this.attempt = 0;
    this.pc = null;
    this.location = '';
    this.timer = null;
    this.watchdog = null;
    this.lastTime = -1;
    this.lastAdvance = Date.now();
    this.cameraOnline = true;
    this.status = { kind: 'connecting' };
  }

  start() {
    if (!window.RTCPeerConnection) {
      this.report({ kind: 'unsupported' });
      return;
    }
    this.connect();
    this.watchdog = setInterval(() => this.check(), 2000);
    // The first frame clears "connecting" at once, not at the next
    // watchdog round (up to 2 s of a label over a moving picture).
    this.onFrame = () => { if (this.status.kind !== 'playing') this.check(); };
    this.video.addEventListener('timeupdate', this.onFrame);
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    clearInterval(this.watchdog);
    if (this.onFrame) this.video.removeEventListener('timeupdate', this.onFrame);
    this.teardown();
  }

  // setCameraOnline tells the player what the server says of the camera:
  // while it is offline a frozen picture is expected, not a stall.
  setCameraOnline(online) {
    if (online && !this.cameraOnline) this.lastAdvance = Date.now();
    this.cameraOnline = online;
  }

  report(s) {
    this.status = s;
    this.onStatus(s);
  }

  teardown() {
    const { pc, location } = this;
    this.pc = null;
    this.location = '';
    if (pc) pc.close();
    if (location) request(location, { method: 'DELETE' }).catch(() => {});
  }

  async connect() {
    if (this.stopped) return;
    this.teardown();
    this.report({ kind: 'connecting' });
    const pc = new RTCPeerConnection();
    this.pc = pc;
    pc.addTransceiver('video', { direction: 'recvonly' });
    pc.ontrack = (e) => {
      this.video.srcObject = new MediaStream([e.track]);
      this.video.play().catch(() => {});
    };
    pc.onconnectionstatechange = () => {
      if (pc !== this.pc) return;
      if (pc.connectionState === 'failed') this.retry({ kind: 'ice' });
    };
    try {
      await pc.setLocalDescription(await pc.createOffer());
      await new Promise((resolve) => {
        if (pc.iceGatheringState === 'complete') { resolve(); return; }
        pc.addEventListener('icegatheringstatechange', () => pc.iceGatheringState === 'complete' && resolve());
        setTimeout(resolve, 2000);
      });
      if (pc !== this.pc) return;
      const res = await request(`/api/v1/live/${encodeURIComponent(this.windowId)}/whep`, {
        method: 'POST', headers: { 'Content-Type': 'application/sdp' }, body: undefined, rawBody: pc.localDescription.sdp,
      });
      this.location = res.headers.get('Location') || '';
      const answer = await res.text();
      if (pc !== this.pc) return;
      await pc.setRemoteDescription({ type: 'answer', sdp: answer });
      this.lastAdvance = Date.now();
    } catch (e) {
      if (pc !== this.pc) return;
      if (e instanceof ApiError && (e.status === 403 || e.status === 401)) {
        this.teardown();
        this.report({ kind: 'forbidden', message: errText(e) });
        return;
      }
      this.retry({ kind: 'error', message: errText(e) });
    }
  }

  retry(status) {
    if (this.stopped) return;
    clearTimeout(this.timer);
    this.teardown();
    const delay = Math.min(15, 2 ** Math.min(this.attempt, 4));
    this.attempt++;
    let left = delay;
    this.report({ ...status, retryIn: left });
    const tick = () => {
      left--;
      if (left <= 0) { this.connect(); return; }
      this.report({ ...status, retryIn: left });
      this.timer = setTimeout(tick, 1000);
    };
    this.timer = setTimeout(tick, 1000);
  }

  check() {
    if (this.stopped || !this.pc) return;
    const ct = this.video.currentTime;
    if (ct !== this.lastTime && this.video.videoWidth > 0) {
      this.lastTime = ct;
      this.lastAdvance = Date.now();
      if (this.status.kind !== 'playing') {
        this.attempt = 0;
        this.report({ kind: 'playing' });
      }
      return;
    }
    // Connected but no new frame for a while although the camera is up:
    // the path is dead without ICE having noticed yet.
    if (this.cameraOnline && Date.now() - this.lastAdvance > 15000) this.retry({ kind: 'stalled' });
  }
}
