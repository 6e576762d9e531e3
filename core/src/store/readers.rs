//! The store's read-only connections: opened on demand in the caller's
//! thread, kept for reuse, closed in the thread that drops the store.
//!
//! Why not r2d2: its pool opens and closes connections on background
//! threads, and a background job may hold the pool after the store is gone.
//! SQLCipher frees its crypto provider in a process destructor, so a reader
//! closed by such a thread while the process exits crashed (SIGSEGV in
//! `sqlite3FreeCodecArg`, about one run in twenty of the core's tests; a
//! CLI run could have exited 139 after doing its work). A phone needs no
//! threads for four connections either.

use std::ops::Deref;
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use rusqlite::Connection;

type Open = Box<dyn Fn() -> rusqlite::Result<Connection> + Send + Sync>;

pub(crate) struct Readers {
    open: Open,
    max: usize,
    wait: Duration,
    state: Mutex<State>,
    returned: Condvar,
}

#[derive(Default)]
struct State {
    idle: Vec<Connection>,
    /// Idle, lent out, or being opened.
    total: usize,
}

/// What went wrong taking a reader: opening one failed, or every reader was
/// busy for the whole wait.
#[derive(Debug)]
pub(crate) enum TakeError {
    Open(rusqlite::Error),
    Busy(Duration),
}

impl std::fmt::Debug for Readers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Readers").field("max", &self.max).finish_non_exhaustive()
    }
}

impl Readers {
    pub(crate) fn new(max: usize, wait: Duration, open: impl Fn() -> rusqlite::Result<Connection> + Send + Sync + 'static) -> Self {
        Self { open: Box::new(open), max: max.max(1), wait, state: Mutex::new(State::default()), returned: Condvar::new() }
    }

    pub(crate) fn take(&self) -> Result<Reader<'_>, TakeError> {
        let deadline = Instant::now() + self.wait;
        let mut s = self.lock();
        loop {
            if let Some(conn) = s.idle.pop() {
                return Ok(Reader { conn: Some(conn), readers: self });
            }
            if s.total < self.max {
                s.total += 1;
                drop(s);
                return match (self.open)() {
                    Ok(conn) => Ok(Reader { conn: Some(conn), readers: self }),
                    Err(e) => {
                        self.lock().total -= 1;
                        self.returned.notify_one();
                        Err(TakeError::Open(e))
                    }
                };
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(TakeError::Busy(self.wait));
            }
            s = self.returned.wait_timeout(s, left).unwrap_or_else(|e| e.into_inner()).0;
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Only plain bookkeeping happens under the lock: never left half-done.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A reader lent out; it goes back to the store when dropped.
pub(crate) struct Reader<'a> {
    conn: Option<Connection>,
    readers: &'a Readers,
}

impl Deref for Reader<'_> {
    type Target = Connection;
    fn deref(&self) -> &Connection {
        // Present from lending until drop.
        self.conn.as_ref().unwrap_or_else(|| unreachable!("a lent reader has its connection"))
    }
}

impl Drop for Reader<'_> {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            // A read left in a transaction by a panic would pin the WAL.
            if conn.is_autocommit() {
                self.readers.lock().idle.push(conn);
            } else {
                self.readers.lock().total -= 1;
            }
            self.readers.returned.notify_one();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    use super::*;

    #[test]
    fn readers_are_reused_bounded_and_waited_for() {
        let opened = Arc::new(AtomicUsize::new(0));
        let o = opened.clone();
        let r = Readers::new(2, Duration::from_millis(200), move || {
            o.fetch_add(1, Ordering::SeqCst);
            Connection::open_in_memory()
        });
        {
            let a = r.take().unwrap();
            let b = r.take().unwrap();
            assert_eq!(a.query_row("SELECT 1", [], |row| row.get::<_, i32>(0)).unwrap(), 1);
            // Both lent: the third waits, then gives up with the wait it had.
            assert!(matches!(r.take(), Err(TakeError::Busy(w)) if w == Duration::from_millis(200)));
            drop(b);
            let _c = r.take().unwrap();
        }
        let _d = r.take().unwrap();
        assert_eq!(opened.load(Ordering::SeqCst), 2, "returned readers are reused");
    }

    #[test]
    fn a_failed_open_frees_its_place() {
        let fail = Arc::new(AtomicUsize::new(1));
        let f = fail.clone();
        let r = Readers::new(1, Duration::from_millis(50), move || {
            if f.swap(0, Ordering::SeqCst) == 1 {
                return Err(rusqlite::Error::InvalidQuery);
            }
            Connection::open_in_memory()
        });
        assert!(matches!(r.take(), Err(TakeError::Open(_))));
        assert!(r.take().is_ok(), "the failed open did not keep the only place");
    }
}
