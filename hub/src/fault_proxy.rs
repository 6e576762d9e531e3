//! A userspace TCP proxy that misbehaves on purpose, for drills and tests.
//! Its faults act on the byte stream, so they work the same under TLS as on
//! plain HTTP: it drops connections, delays them, cuts them after some bytes
//! in either direction, resets them, and loses the reply to a request that
//! went through (the hub did the work, the desk never heard: the desk must
//! retry safely). On plain HTTP it can also replay a request to the hub a
//! second time (under TLS the replayed bytes are refused by the hub's TLS
//! layer, which is what a replay amounts to there).
//!
//! Loopback only; it stops when its runtime stops. A [`FaultControl`] lets
//! a drill script the next connections' faults or heal the network.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand::{Rng, SeedableRng};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Per-connection odds of each fault (the rest pass untouched).
#[derive(Debug, Clone, Copy)]
pub struct Faults {
    pub drop: f64,
    pub delay: f64,
    /// Close after some bytes of the request (anywhere, the TLS handshake
    /// included): the hub never gets the whole request.
    pub cut_request: f64,
    /// Close after some bytes of the hub's side (anywhere, the TLS
    /// handshake included).
    pub cut_reply: f64,
    /// Pass the request whole, let the hub answer, and lose the answer.
    pub lose_reply: f64,
    pub reset: f64,
    /// Plain HTTP: the request's bytes sent to the hub again.
    pub replay: f64,
    pub max_delay: Duration,
}

impl Faults {
    /// About 30 % of connections faulted, spread over every kind.
    pub fn rough() -> Faults {
        Faults {
            drop: 0.05,
            delay: 0.06,
            cut_request: 0.04,
            cut_reply: 0.04,
            lose_reply: 0.05,
            reset: 0.03,
            replay: 0.03,
            max_delay: Duration::from_millis(300),
        }
    }

    pub fn none() -> Faults {
        Faults { drop: 0.0, delay: 0.0, cut_request: 0.0, cut_reply: 0.0, lose_reply: 0.0, reset: 0.0, replay: 0.0, max_delay: Duration::ZERO }
    }

    fn total(&self) -> f64 {
        self.drop + self.delay + self.cut_request + self.cut_reply + self.lose_reply + self.reset + self.replay
    }
}

#[derive(Debug, Default)]
pub struct FaultCounts {
    pub connections: AtomicU64,
    pub dropped: AtomicU64,
    pub delayed: AtomicU64,
    pub cut: AtomicU64,
    /// Replies lost after the whole request went through.
    pub lost: AtomicU64,
    pub reset: AtomicU64,
    pub replayed: AtomicU64,
}

impl FaultCounts {
    pub fn faulted(&self) -> u64 {
        [&self.dropped, &self.delayed, &self.cut, &self.lost, &self.reset, &self.replayed].iter().map(|c| c.load(Ordering::Relaxed)).sum()
    }
}

/// What happens to one connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    None,
    /// Closed at once, nothing forwarded.
    Drop,
    Delay(Duration),
    /// The first `n` bytes of the request reach the hub, then both sides close.
    CutRequest(usize),
    /// The first `n` bytes from the hub reach the desk, then both sides close.
    CutReply(usize),
    /// The request reaches the hub whole; of what the hub sends after it,
    /// the first `n` bytes reach the desk and the rest is swallowed until
    /// the hub has answered; then the desk's connection is closed.
    LoseReply(usize),
    /// After `n` bytes of the request the desk's connection is reset (RST).
    Reset(usize),
    Replay,
}

/// Changes a running proxy's behaviour: the faults of the next connections
/// in order, then the odds again; or the odds themselves (heal the network
/// with [`Faults::none`]).
#[derive(Debug, Clone)]
pub struct FaultControl {
    inner: Arc<Mutex<Plan>>,
}

#[derive(Debug)]
struct Plan {
    odds: Faults,
    script: VecDeque<Fault>,
}

impl FaultControl {
    pub fn set_odds(&self, odds: Faults) {
        self.lock().odds = odds;
    }

    /// The next connections get these faults, one each, in order.
    pub fn script(&self, faults: impl IntoIterator<Item = Fault>) {
        self.lock().script.extend(faults);
    }

    /// Connections still to take a scripted fault.
    pub fn scripted_left(&self) -> usize {
        self.lock().script.len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Plan> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Start proxying `listener`'s connections to `upstream` on the current
/// tokio runtime. Returns the counters.
pub fn spawn(listener: TcpListener, upstream: SocketAddr, faults: Faults, seed: u64) -> Arc<FaultCounts> {
    spawn_controlled(listener, upstream, faults, seed).0
}

/// [`spawn`], with a handle to change the faults while it runs.
pub fn spawn_controlled(listener: TcpListener, upstream: SocketAddr, faults: Faults, seed: u64) -> (Arc<FaultCounts>, FaultControl) {
    let counts = Arc::new(FaultCounts::default());
    let control = FaultControl { inner: Arc::new(Mutex::new(Plan { odds: faults, script: VecDeque::new() })) };
    let (c, ctl) = (counts.clone(), control.clone());
    tokio::spawn(async move {
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        loop {
            let Ok((client, _)) = listener.accept().await else { continue };
            c.connections.fetch_add(1, Ordering::Relaxed);
            let fault = {
                let mut plan = ctl.lock();
                match plan.script.pop_front() {
                    Some(f) => f,
                    None => pick(&mut rng, &plan.odds),
                }
            };
            let counts = c.clone();
            tokio::spawn(async move {
                let _ = handle(client, upstream, fault, &counts).await;
            });
        }
    });
    (counts, control)
}

fn pick(rng: &mut rand::rngs::StdRng, f: &Faults) -> Fault {
    if f.total() <= 0.0 {
        return Fault::None;
    }
    let x: f64 = rng.random();
    let mut edge = 0.0;
    let mut hit = |p: f64| {
        edge += p;
        x < edge
    };
    // Byte counts up to 4 KiB land in the TLS handshake (about 1.5 KiB
    // from the hub, 0.3 KiB from the desk) as often as in the HTTP exchange.
    if hit(f.drop) {
        Fault::Drop
    } else if hit(f.delay) {
        Fault::Delay(f.max_delay.mul_f64(rng.random_range(0.2..1.0)))
    } else if hit(f.cut_request) {
        Fault::CutRequest(rng.random_range(1..4096))
    } else if hit(f.cut_reply) {
        Fault::CutReply(rng.random_range(1..4096))
    } else if hit(f.lose_reply) {
        Fault::LoseReply(rng.random_range(0..64))
    } else if hit(f.reset) {
        Fault::Reset(rng.random_range(1..4096))
    } else if hit(f.replay) {
        Fault::Replay
    } else {
        Fault::None
    }
}

/// Knows, from the desk's bytes alone, when a request has gone up: on plain
/// HTTP, at the first byte; under TLS (1.3), at the desk's second
/// application-data record (its first is the encrypted handshake Finished).
/// Records are read by their 5-byte headers; nothing is decrypted.
#[derive(Debug, Default)]
struct RequestWatch {
    tls: Option<bool>,
    /// TLS: bytes of the current record header seen, and the header.
    header: [u8; 5],
    header_len: usize,
    /// TLS: body bytes of the current record still to skip.
    body_left: usize,
    app_records: u32,
}

impl RequestWatch {
    /// Feed the desk's next bytes; true once a request has gone up.
    fn feed(&mut self, bytes: &[u8]) -> bool {
        let Some(&first) = bytes.first() else { return self.seen() };
        let tls = *self.tls.get_or_insert(first == 0x16);
        if !tls {
            return true;
        }
        let mut i = 0;
        while i < bytes.len() {
            if self.body_left > 0 {
                let take = self.body_left.min(bytes.len() - i);
                self.body_left -= take;
                i += take;
                continue;
            }
            self.header[self.header_len] = bytes[i];
            self.header_len += 1;
            i += 1;
            if self.header_len == 5 {
                self.header_len = 0;
                if self.header[0] == 0x17 {
                    self.app_records += 1;
                }
                self.body_left = usize::from(u16::from_be_bytes([self.header[3], self.header[4]]));
            }
        }
        self.seen()
    }

    fn seen(&self) -> bool {
        match self.tls {
            None => false,
            Some(false) => true,
            Some(true) => self.app_records >= 2,
        }
    }
}

async fn handle(mut client: TcpStream, upstream: SocketAddr, fault: Fault, counts: &FaultCounts) -> std::io::Result<()> {
    match fault {
        Fault::Drop => {
            counts.dropped.fetch_add(1, Ordering::Relaxed);
            return Ok(());
        }
        Fault::Delay(d) => {
            counts.delayed.fetch_add(1, Ordering::Relaxed);
            tokio::time::sleep(d).await;
        }
        _ => {}
    }
    let mut server = TcpStream::connect(upstream).await?;
    let (mut cr, mut cw) = client.split();
    let (mut sr, mut sw) = server.split();
    let mut seen_request = Vec::new();
    let request_up = tokio::sync::watch::channel(false);
    let (up_tx, mut up_rx) = request_up;
    let up = async {
        let mut buf = vec![0u8; 16 * 1024];
        let mut sent = 0usize;
        let mut watch = RequestWatch::default();
        loop {
            let n = cr.read(&mut buf).await?;
            if n == 0 {
                return Ok::<_, std::io::Error>(());
            }
            match fault {
                Fault::Reset(at) if sent + n >= at => {
                    counts.reset.fetch_add(1, Ordering::Relaxed);
                    return Err(std::io::Error::new(std::io::ErrorKind::ConnectionReset, "reset"));
                }
                Fault::CutRequest(at) if sent + n >= at => {
                    sw.write_all(&buf[..at - sent]).await?;
                    counts.cut.fetch_add(1, Ordering::Relaxed);
                    return Err(std::io::Error::new(std::io::ErrorKind::BrokenPipe, "cut"));
                }
                _ => {}
            }
            if matches!(fault, Fault::Replay) && seen_request.len() < 8 * 1024 * 1024 {
                seen_request.extend_from_slice(&buf[..n]);
            }
            sw.write_all(&buf[..n]).await?;
            sent += n;
            if watch.feed(&buf[..n]) {
                let _ = up_tx.send(true);
            }
        }
    };
    let down = async {
        let mut buf = vec![0u8; 16 * 1024];
        let mut passed = 0usize;
        // LoseReply: bytes of the hub's side since the request went up.
        let mut after_request = 0usize;
        loop {
            let read = if after_request > 0 {
                // Swallowing: the hub's answer is in once it goes quiet.
                match tokio::time::timeout(Duration::from_millis(250), sr.read(&mut buf)).await {
                    Ok(r) => r?,
                    Err(_) => 0,
                }
            } else {
                sr.read(&mut buf).await?
            };
            if read == 0 {
                if after_request > 0 {
                    counts.lost.fetch_add(1, Ordering::Relaxed);
                    return Err(std::io::Error::new(std::io::ErrorKind::BrokenPipe, "reply lost"));
                }
                return Ok::<_, std::io::Error>(());
            }
            let n = read;
            match fault {
                Fault::CutReply(keep) if passed + n >= keep => {
                    cw.write_all(&buf[..keep - passed]).await?;
                    counts.cut.fetch_add(1, Ordering::Relaxed);
                    return Err(std::io::Error::new(std::io::ErrorKind::BrokenPipe, "cut"));
                }
                Fault::LoseReply(keep) if *up_rx.borrow_and_update() || after_request > 0 => {
                    let room = keep.saturating_sub(after_request).min(n);
                    cw.write_all(&buf[..room]).await?;
                    after_request += n;
                    passed += room;
                    continue;
                }
                _ => {}
            }
            cw.write_all(&buf[..n]).await?;
            passed += n;
        }
    };
    // Either direction ending (or failing) ends the connection.
    let _ = tokio::select! {
        r = up => r,
        r = down => r,
    };
    if matches!(fault, Fault::Reset(_)) {
        // Linger 0: the close is an RST, not a FIN. (Deprecated because a
        // non-zero linger blocks on drop; zero does not.)
        #[allow(deprecated)]
        let _ = client.set_linger(Some(Duration::ZERO));
    }
    drop(client);
    if matches!(fault, Fault::Replay) && !seen_request.is_empty() {
        // The same bytes again, as a retransmitting middlebox might.
        counts.replayed.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut again) = TcpStream::connect(upstream).await {
            let _ = again.write_all(&seen_request).await;
            let mut sink = vec![0u8; 16 * 1024];
            let _ = tokio::time::timeout(Duration::from_secs(5), async {
                while let Ok(n) = again.read(&mut sink).await {
                    if n == 0 {
                        break;
                    }
                }
            })
            .await;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(kind: u8, len: usize) -> Vec<u8> {
        let mut r = vec![kind, 3, 3];
        r.extend_from_slice(&u16::try_from(len).unwrap_or(u16::MAX).to_be_bytes());
        r.extend(std::iter::repeat_n(0xAB, len));
        r
    }

    #[test]
    fn a_request_goes_up_at_the_first_plain_byte_or_the_second_tls_application_record() {
        let mut plain = RequestWatch::default();
        assert!(plain.feed(b"POST /api/v1/enroll HTTP/1.1\r\n"));

        // ClientHello, then the encrypted Finished, then the request: fed
        // in odd slices, as TCP may cut them.
        let mut bytes = record(0x16, 300);
        bytes.extend(record(0x14, 1));
        bytes.extend(record(0x17, 53));
        let finished_end = bytes.len();
        bytes.extend(record(0x17, 400));
        let mut tls = RequestWatch::default();
        let mut seen_at = None;
        for (i, chunk) in bytes.chunks(7).enumerate() {
            if tls.feed(chunk) && seen_at.is_none() {
                seen_at = Some(i * 7);
            }
        }
        let at = seen_at.unwrap_or(usize::MAX);
        assert!(at >= finished_end && at < finished_end + 7, "seen at byte {at}, the request's header starts at {finished_end}");
        assert_eq!(tls.app_records, 2);
    }
}
