// The live event stream (`GET /v1/streams/events`, server-sent events),
// read with fetch so the same code carries a cookie session or a bearer
// token. It reconnects when the connection drops, sending the last event id
// it saw as `Last-Event-ID` (the gateway resumes right after it, across a
// restart of the gateway too), and hands each event on once: ids already
// seen are dropped. The gateway seals a fresh id into every frame, so the
// screen also keys its feed by the event itself (screen.js `keyOfEvent`).

const SEEN_LIMIT = 5000;

export class LiveStream {
  constructor({ url, headers, onEvent, onState }) {
    this.url = url;
    this.headers = headers;
    this.onEvent = onEvent;
    this.onState = onState;
    this.lastEventId = sessionStorage.getItem('louyu.screen.lastEventId') || '';
    this.seen = new Set();
    this.seenOrder = [];
    this.delay = 1000;
    this.stopped = false;
  }

  start() {
    this.connect();
  }

  /** Whether `id` was handed on already; remembers it if not. */
  firstTime(id) {
    if (!id) return true;
    if (this.seen.has(id)) return false;
    this.seen.add(id);
    this.seenOrder.push(id);
    if (this.seenOrder.length > SEEN_LIMIT) this.seen.delete(this.seenOrder.shift());
    return true;
  }

  async connect() {
    if (this.stopped) return;
    this.onState('connecting');
    const headers = { ...this.headers(), Accept: 'text/event-stream' };
    if (this.lastEventId) headers['Last-Event-ID'] = this.lastEventId;
    let response;
    try {
      response = await fetch(this.url, { headers, credentials: 'same-origin', cache: 'no-store' });
    } catch (_) {
      return this.retry();
    }
    if (response.status === 404 || response.status === 501) {
      // No stream on this gateway: the screen polls instead.
      this.onState('unsupported');
      return;
    }
    if (response.status === 400 && this.lastEventId) {
      // The gateway cannot resume from that id (another deployment's, or
      // altered): start again from now; the counts are re-read anyway.
      this.lastEventId = '';
      sessionStorage.removeItem('louyu.screen.lastEventId');
      return this.retry();
    }
    if (!response.ok || !response.body) {
      this.onState(response.status === 401 ? 'unauthenticated' : 'offline');
      return this.retry();
    }
    this.onState('live');
    this.delay = 1000;
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = '';
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value.replace(/\r\n?/g, '\n');
        let end;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          this.dispatch(buffer.slice(0, end));
          buffer = buffer.slice(end + 2);
        }
      }
    } catch (_) {
      // Dropped: reconnect below.
    }
    this.retry();
  }

  dispatch(block) {
    let id = '';
    let type = '';
    const data = [];
    for (const line of block.split('\n')) {
      if (line.startsWith(':')) continue;
      const colon = line.indexOf(':');
      const field = colon < 0 ? line : line.slice(0, colon);
      let value = colon < 0 ? '' : line.slice(colon + 1);
      if (value.startsWith(' ')) value = value.slice(1);
      if (field === 'id') id = value;
      else if (field === 'event') type = value;
      else if (field === 'data') data.push(value);
      else if (field === 'retry' && /^\d+$/.test(value)) this.delay = Number(value);
    }
    if (id) {
      this.lastEventId = id;
      sessionStorage.setItem('louyu.screen.lastEventId', id);
    }
    // Named events are the stream's own notices (e.g. a gap); domain
    // events come unnamed.
    if (data.length === 0 || (type && type !== 'message') || !this.firstTime(id)) return;
    let event;
    try {
      event = JSON.parse(data.join('\n'));
    } catch (_) {
      return;
    }
    this.onEvent(id, event);
  }

  retry() {
    if (this.stopped) return;
    this.onState('offline');
    const wait = this.delay;
    this.delay = Math.min(this.delay * 2, 30000);
    setTimeout(() => this.connect(), wait);
  }
}
