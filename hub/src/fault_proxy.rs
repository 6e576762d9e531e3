//! A userspace TCP proxy that misbehaves on purpose, for drills and tests:
//! it drops connections, delays them, cuts replies mid-way (the request may
//! have been processed: the desk must retry safely), resets them, and replays
//! requests to the hub a second time. Loopback only; it stops when dropped.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rand::{Rng, SeedableRng};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Per-connection odds of each fault (the rest pass untouched).
#[derive(Debug, Clone, Copy)]
pub struct Faults {
    pub drop: f64,
    pub delay: f64,
    pub cut_reply: f64,
    pub reset: f64,
    pub replay: f64,
    pub max_delay: Duration,
}

impl Faults {
    /// About 30 % of connections faulted, spread over every kind.
    pub fn rough() -> Faults {
        Faults { drop: 0.07, delay: 0.07, cut_reply: 0.08, reset: 0.05, replay: 0.05, max_delay: Duration::from_millis(300) }
    }

    pub fn none() -> Faults {
        Faults { drop: 0.0, delay: 0.0, cut_reply: 0.0, reset: 0.0, replay: 0.0, max_delay: Duration::ZERO }
    }
}

#[derive(Debug, Default)]
pub struct FaultCounts {
    pub connections: AtomicU64,
    pub dropped: AtomicU64,
    pub delayed: AtomicU64,
    pub cut: AtomicU64,
    pub reset: AtomicU64,
    pub replayed: AtomicU64,
}

impl FaultCounts {
    pub fn faulted(&self) -> u64 {
        [&self.dropped, &self.delayed, &self.cut, &self.reset, &self.replayed].iter().map(|c| c.load(Ordering::Relaxed)).sum()
    }
}

#[derive(Debug, Clone, Copy)]
enum Fault {
    None,
    Drop,
    Delay(Duration),
    CutReply(usize),
    Reset(usize),
    Replay,
}

/// Start proxying `listener`'s connections to `upstream` on the current
/// tokio runtime. Returns the counters.
pub fn spawn(listener: TcpListener, upstream: SocketAddr, faults: Faults, seed: u64) -> Arc<FaultCounts> {
    let counts = Arc::new(FaultCounts::default());
    let c = counts.clone();
    tokio::spawn(async move {
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        loop {
            let Ok((client, _)) = listener.accept().await else { continue };
            c.connections.fetch_add(1, Ordering::Relaxed);
            let fault = pick(&mut rng, &faults);
            let counts = c.clone();
            tokio::spawn(async move {
                let _ = handle(client, upstream, fault, &counts).await;
            });
        }
    });
    counts
}

fn pick(rng: &mut rand::rngs::StdRng, f: &Faults) -> Fault {
    let x: f64 = rng.random();
    let mut edge = 0.0;
    let mut hit = |p: f64| {
        edge += p;
        x < edge
    };
    if hit(f.drop) {
        Fault::Drop
    } else if hit(f.delay) {
        Fault::Delay(f.max_delay.mul_f64(rng.random_range(0.2..1.0)))
    } else if hit(f.cut_reply) {
        Fault::CutReply(rng.random_range(1..200))
    } else if hit(f.reset) {
        Fault::Reset(rng.random_range(1..2000))
    } else if hit(f.replay) {
        Fault::Replay
    } else {
        Fault::None
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
    let up = async {
        let mut buf = vec![0u8; 16 * 1024];
        let mut sent = 0usize;
        loop {
            let n = cr.read(&mut buf).await?;
            if n == 0 {
                return Ok::<_, std::io::Error>(());
            }
            if let Fault::Reset(at) = fault {
                if sent + n >= at {
                    counts.reset.fetch_add(1, Ordering::Relaxed);
                    return Err(std::io::Error::new(std::io::ErrorKind::ConnectionReset, "reset"));
                }
            }
            if matches!(fault, Fault::Replay) && seen_request.len() < 8 * 1024 * 1024 {
                seen_request.extend_from_slice(&buf[..n]);
            }
            sw.write_all(&buf[..n]).await?;
            sent += n;
        }
    };
    let down = async {
        let mut buf = vec![0u8; 16 * 1024];
        let mut passed = 0usize;
        loop {
            let n = sr.read(&mut buf).await?;
            if n == 0 {
                return Ok::<_, std::io::Error>(());
            }
            if let Fault::CutReply(keep) = fault {
                let room = keep.saturating_sub(passed).min(n);
                cw.write_all(&buf[..room]).await?;
                counts.cut.fetch_add(1, Ordering::Relaxed);
                return Err(std::io::Error::new(std::io::ErrorKind::BrokenPipe, "cut"));
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
