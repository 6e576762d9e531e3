//! Pushes that reach the SQLite hub together share one commit (ADR 0036).
//!
//! SQLite has one writer, and with `synchronous=FULL` every commit waits for
//! the log to reach the disk. While one push holds the writer, the pushes of
//! other desks queue; when it is done, the first of them to wake takes the
//! whole queue (up to a cap) and files it in one transaction, in the order
//! the pushes arrived, and each is answered only after that commit. If any
//! of them fails, the transaction is rolled back and each push of the group
//! is filed again alone, so a push's outcome is always the one it would have
//! had alone, one after the other: only the push that fails (or panics) is
//! answered with an error. (A savepoint a push would spare the second
//! filing, at a cost to every push, for a failure that is rare.) A
//! transaction that cannot begin or commit fails the whole group, once.

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use rusqlite::{Connection, Transaction, TransactionBehavior};

use super::{DbError, Result};

/// The most events one shared commit files: a push is at most 500 events,
/// so up to 16 full pushes. A push larger than this still goes, alone.
pub(crate) const MAX_GROUP_EVENTS: usize = 8_000;

/// A push's filing, run on whichever thread leads its group, and run again
/// alone if its group is rolled back.
pub(crate) type Job<T> = Box<dyn Fn(&Transaction<'_>) -> Result<T> + Send + Sync>;

pub(crate) struct GroupCommit<T> {
    state: Mutex<Queue<T>>,
    /// Rung when a group's outcomes are set and the lead is free again.
    turn: Condvar,
}

struct Queue<T> {
    waiting: VecDeque<Arc<Entry<T>>>,
    /// A thread is filing a group: the others wait for its outcome.
    leading: bool,
}

struct Entry<T> {
    job: Job<T>,
    events: usize,
    outcome: Mutex<Option<Result<T>>>,
}

impl<T> Entry<T> {
    fn answer(&self, r: Result<T>) {
        *lock(&self.outcome) = Some(r);
    }

    fn answered(&self) -> bool {
        lock(&self.outcome).is_some()
    }
}

fn lock<G>(m: &Mutex<G>) -> MutexGuard<'_, G> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl<T> Default for GroupCommit<T> {
    fn default() -> Self {
        GroupCommit { state: Mutex::new(Queue { waiting: VecDeque::new(), leading: false }), turn: Condvar::new() }
    }
}

impl<T> GroupCommit<T> {
    /// File `job` (a push of `events` events) on `writer`, with whatever
    /// other pushes are waiting, and return its own outcome once committed.
    pub(crate) fn run(&self, writer: &Mutex<Connection>, events: usize, job: Job<T>) -> Result<T> {
        let mine = Arc::new(Entry { job, events, outcome: Mutex::new(None) });
        let mut state = lock(&self.state);
        state.waiting.push_back(Arc::clone(&mine));
        loop {
            if let Some(out) = lock(&mine.outcome).take() {
                return out;
            }
            if state.leading {
                state = self.turn.wait(state).unwrap_or_else(|e| e.into_inner());
                continue;
            }
            let group = take_group(&mut state.waiting);
            state.leading = true;
            drop(state);
            // Frees the lead and answers whatever the group left unanswered
            // even if a filing panics, so no waiting push hangs.
            let lead = Lead { owner: self, group };
            file_group(writer, &lead.group);
            drop(lead);
            state = lock(&self.state);
        }
    }
}

impl<T> GroupCommit<T> {
    /// Pushes waiting for the writer, and whether a group is being filed
    /// (for tests that make pushes queue).
    pub(crate) fn queue(&self) -> (usize, bool) {
        let state = lock(&self.state);
        (state.waiting.len(), state.leading)
    }
}

/// The oldest waiting pushes, at least one, up to `MAX_GROUP_EVENTS`.
fn take_group<T>(waiting: &mut VecDeque<Arc<Entry<T>>>) -> Vec<Arc<Entry<T>>> {
    let mut group = Vec::new();
    let mut events = 0;
    while let Some(next) = waiting.front() {
        if !group.is_empty() && events + next.events > MAX_GROUP_EVENTS {
            break;
        }
        events += next.events;
        group.extend(waiting.pop_front());
    }
    group
}

struct Lead<'a, T> {
    owner: &'a GroupCommit<T>,
    group: Vec<Arc<Entry<T>>>,
}

impl<T> Drop for Lead<'_, T> {
    fn drop(&mut self) {
        // Jobs' panics are caught; this is for one in the filing itself.
        if std::thread::panicking() {
            for e in self.group.iter().filter(|e| !e.answered()) {
                e.answer(Err(DbError::Interrupted));
            }
        }
        lock(&self.owner.state).leading = false;
        self.owner.turn.notify_all();
    }
}

/// Why a group was not committed.
enum Failed {
    /// A push failed: nothing of the group was kept.
    Push,
    /// The transaction could not begin or commit (a busy or failing disk).
    Transaction(DbError),
}

/// Every entry of the group is answered when this returns.
fn file_group<T>(writer: &Mutex<Connection>, group: &[Arc<Entry<T>>]) {
    let mut conn = lock(writer);
    if let [only] = group {
        return only.answer(file_alone(&mut conn, only));
    }
    match file_together(&mut conn, group) {
        Ok(outcomes) => {
            for (entry, v) in group.iter().zip(outcomes) {
                entry.answer(Ok(v));
            }
        }
        // Filed again one by one, so only the push that fails gets an error.
        Err(Failed::Push) => {
            for entry in group {
                entry.answer(file_alone(&mut conn, entry));
            }
        }
        // Not any one push's doing, and likely to fail again: every push is
        // told, once (a desk retries a storage error).
        Err(Failed::Transaction(e)) => {
            for entry in group {
                entry.answer(Err(DbError::SharedCommit(e.to_string())));
            }
        }
    }
}

/// The group's pushes in one transaction, in order; all or nothing.
fn file_together<T>(conn: &mut Connection, group: &[Arc<Entry<T>>]) -> std::result::Result<Vec<T>, Failed> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(|e| Failed::Transaction(e.into()))?;
    let mut outcomes = Vec::with_capacity(group.len());
    for entry in group {
        outcomes.push(run(entry, &tx).map_err(|_| Failed::Push)?);
        if tx.is_autocommit() {
            // SQLite ended the transaction under a push that did not say so
            // (a full disk, an I/O error): the next pushes must not run
            // statement by statement outside it.
            return Err(Failed::Push);
        }
    }
    tx.commit().map_err(|e| Failed::Transaction(e.into()))?;
    Ok(outcomes)
}

fn file_alone<T>(conn: &mut Connection, entry: &Entry<T>) -> Result<T> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let outcome = run(entry, &tx)?;
    // (Had SQLite ended the transaction under it, the commit fails.)
    tx.commit()?;
    Ok(outcome)
}

/// A push's job; a panic in it is that push's error, not its group's.
fn run<T>(entry: &Entry<T>, tx: &Transaction<'_>) -> Result<T> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| (entry.job)(tx))).unwrap_or(Err(DbError::Interrupted))
}

impl<T> std::fmt::Debug for GroupCommit<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = lock(&self.state);
        f.debug_struct("GroupCommit").field("waiting", &state.waiting.len()).field("leading", &state.leading).finish()
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;
    use std::sync::mpsc;
    use std::thread::{self, ThreadId};
    use std::time::{Duration, Instant};

    use super::*;

    struct Store {
        _dir: tempfile::TempDir,
        path: PathBuf,
        writer: Arc<Mutex<Connection>>,
        /// (push, rows committed when it ran, as another connection saw them).
        runs: Arc<Mutex<Vec<(i64, i64)>>>,
    }

    fn store() -> Store {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hub.sqlite");
        let c = Connection::open(&path).unwrap();
        c.execute_batch("PRAGMA journal_mode=WAL; CREATE TABLE pushed (push INTEGER PRIMARY KEY, at INTEGER NOT NULL)").unwrap();
        Store { _dir: dir, path, writer: Arc::new(Mutex::new(c)), runs: Arc::default() }
    }

    impl Store {
        /// The pushes kept, in the order they were written.
        fn pushed(&self) -> Vec<i64> {
            let c = Connection::open(&self.path).unwrap();
            let mut st = c.prepare("SELECT push FROM pushed ORDER BY at").unwrap();
            let rows = st.query_map([], |r| r.get(0)).unwrap();
            rows.collect::<rusqlite::Result<_>>().unwrap()
        }

        /// A push that writes its number, notes what was committed when it
        /// ran, and says which thread filed it.
        fn write(&self, n: i64) -> Job<ThreadId> {
            let (path, runs) = (self.path.clone(), Arc::clone(&self.runs));
            Box::new(move |tx| {
                let committed: i64 = Connection::open(&path)?.query_row("SELECT count(*) FROM pushed", [], |r| r.get(0))?;
                lock(&runs).push((n, committed));
                tx.execute("INSERT INTO pushed (push, at) VALUES (?1, (SELECT count(*) FROM pushed))", [n])?;
                Ok(thread::current().id())
            })
        }

        fn runs(&self) -> Vec<(i64, i64)> {
            lock(&self.runs).clone()
        }
    }

    fn until(what: &str, done: impl Fn() -> bool) {
        let start = Instant::now();
        while !done() {
            assert!(start.elapsed() < Duration::from_secs(10), "gave up waiting: {what}");
            thread::sleep(Duration::from_millis(1));
        }
    }

    /// A push's thread: its own id, its outcome, and how many pushes another
    /// connection saw committed the moment that outcome came back.
    type Filed = thread::JoinHandle<(ThreadId, Result<ThreadId>, i64)>;

    fn committed(path: &std::path::Path) -> i64 {
        Connection::open(path).unwrap().query_row("SELECT count(*) FROM pushed", [], |r| r.get(0)).unwrap()
    }

    /// Push 1 holds the writer until told; the `rest` queue behind it, one
    /// after another in order. Returns the go-ahead for push 1 and every
    /// push's thread.
    fn behind_a_slow_push(g: &Arc<GroupCommit<ThreadId>>, store: &Store, rest: Vec<Job<ThreadId>>) -> (mpsc::Sender<()>, Vec<Filed>) {
        let (go, wait) = mpsc::channel::<()>();
        let (started, has_started) = mpsc::channel::<()>();
        let wait = Mutex::new(wait);
        let first = store.write(1);
        let held: Job<ThreadId> = Box::new(move |tx| {
            started.send(()).unwrap();
            lock(&wait).recv_timeout(Duration::from_secs(10)).unwrap();
            first(tx)
        });
        let mut jobs = vec![held];
        jobs.extend(rest);
        let mut threads = Vec::new();
        for (k, job) in jobs.into_iter().enumerate() {
            let (filer, c, path) = (Arc::clone(g), Arc::clone(&store.writer), store.path.clone());
            threads.push(thread::spawn(move || {
                let outcome = filer.run(&c, 1, job);
                (thread::current().id(), outcome, committed(&path))
            }));
            if k == 0 {
                has_started.recv_timeout(Duration::from_secs(10)).unwrap();
            } else {
                until("the push to queue", || g.queue() == (k, true));
            }
        }
        (go, threads)
    }

    fn join(threads: Vec<Filed>) -> Vec<(ThreadId, Result<ThreadId>, i64)> {
        threads.into_iter().map(|t| t.join().unwrap()).collect()
    }

    /// Pushes 2, `third` and 4 queued behind a held push 1 and filed: the
    /// others must succeed whatever `third` does; returns `third`'s outcome.
    fn third_in_a_group(g: &Arc<GroupCommit<ThreadId>>, store: &Store, third: Job<ThreadId>) -> Result<ThreadId> {
        let (go, threads) = behind_a_slow_push(g, store, vec![store.write(2), third, store.write(4)]);
        go.send(()).unwrap();
        let mut outcomes: Vec<Result<ThreadId>> = join(threads).into_iter().map(|(_, r, _)| r).collect();
        assert!(outcomes[0].is_ok() && outcomes[1].is_ok() && outcomes[3].is_ok(), "{outcomes:?}");
        outcomes.swap_remove(2)
    }

    #[test]
    fn pushes_arriving_while_one_is_filed_share_the_next_commit_in_order() {
        let store = store();
        let g = Arc::new(GroupCommit::default());
        let rest = (2..=5).map(|n| store.write(n)).collect();
        let (go, threads) = behind_a_slow_push(&g, &store, rest);
        go.send(()).unwrap();
        let joined = join(threads);
        // Each push was answered only once its commit could be seen.
        let seen: Vec<i64> = joined.iter().map(|(_, _, seen)| *seen).collect();
        assert!(seen[0] >= 1 && seen[1..].iter().all(|&n| n == 5), "answered before its commit: {seen:?}");
        let outcomes: Vec<(ThreadId, ThreadId)> = joined.into_iter().map(|(me, r, _)| (me, r.unwrap())).collect();
        // The first push was filed alone, by its own thread; the four that
        // waited behind it were filed by one of them, in the order they came,
        // in one transaction: each saw only the first push committed.
        assert_eq!(outcomes[0].0, outcomes[0].1);
        let leader = outcomes[1].1;
        assert!(outcomes[1..].iter().all(|(_, by)| *by == leader), "one thread filed the group: {outcomes:?}");
        assert!(outcomes[1..].iter().any(|(me, _)| *me == leader));
        assert_eq!(store.runs(), vec![(1, 0), (2, 1), (3, 1), (4, 1), (5, 1)]);
        assert_eq!(store.pushed(), vec![1, 2, 3, 4, 5]);
        assert_eq!(g.queue(), (0, false));
    }

    #[test]
    fn a_push_that_fails_in_a_group_fails_alone_with_its_own_error() {
        let store = store();
        let g = Arc::new(GroupCommit::default());
        // Push 3 writes, then fails on a row that is already there.
        let failing: Job<ThreadId> = Box::new(|tx| {
            tx.execute("INSERT INTO pushed (push, at) VALUES (30, 30)", [])?;
            tx.execute("INSERT INTO pushed (push, at) VALUES (2, 31)", [])?;
            Ok(thread::current().id())
        });
        let third = third_in_a_group(&g, &store, failing);
        match &third {
            Err(DbError::Sqlite(e)) => assert!(e.to_string().contains("UNIQUE"), "{e}"),
            other => panic!("push 3 should fail with its own error, got {other:?}"),
        }
        // Together first (rolled back when 3 failed), then one by one.
        assert_eq!(store.runs(), vec![(1, 0), (2, 1), (2, 1), (4, 2)]);
        assert_eq!(store.pushed(), vec![1, 2, 4], "push 3's first row went with it; the others kept");
    }

    #[test]
    fn a_push_that_loses_the_whole_transaction_costs_the_others_nothing() {
        let store = store();
        let g = Arc::new(GroupCommit::default());
        // As SQLite does on a full disk or an I/O error: the transaction is
        // rolled back under the push, which then fails.
        let losing: Job<ThreadId> = Box::new(|tx| {
            tx.execute_batch("ROLLBACK")?;
            Err(DbError::Corrupt { what: "test", detail: "disk full".into() })
        });
        let third = third_in_a_group(&g, &store, losing);
        assert!(matches!(&third, Err(DbError::Corrupt { .. })), "{third:?}");
        assert_eq!(store.pushed(), vec![1, 2, 4]);
        assert!(g.run(&store.writer, 1, store.write(5)).is_ok(), "the writer is usable again");
        assert_eq!(store.pushed(), vec![1, 2, 4, 5]);
    }

    #[test]
    fn a_push_under_which_the_transaction_ended_unsaid_stops_its_group() {
        let store = store();
        let g = Arc::new(GroupCommit::default());
        // SQLite rolled back under this push, which did not notice: the
        // pushes after it must not run outside a transaction, one
        // statement at a time, and be kept while the group fails.
        let unsaid: Job<ThreadId> = Box::new(|tx| {
            tx.execute_batch("ROLLBACK")?;
            Ok(thread::current().id())
        });
        let third = third_in_a_group(&g, &store, unsaid);
        assert!(third.is_err(), "its commit fails alone: {third:?}");
        // The group stopped before push 4; then each alone, 2 again.
        assert_eq!(store.runs(), vec![(1, 0), (2, 1), (2, 1), (4, 2)]);
        assert_eq!(store.pushed(), vec![1, 2, 4]);
    }

    #[test]
    fn a_push_that_panics_gets_an_error_and_the_others_are_kept() {
        let store = store();
        let g = Arc::new(GroupCommit::default());
        let panicking: Job<ThreadId> = Box::new(|_| panic!("a bug in filing"));
        let third = third_in_a_group(&g, &store, panicking);
        assert!(matches!(third, Err(DbError::Interrupted)), "{third:?}");
        assert_eq!(store.pushed(), vec![1, 2, 4]);
        assert_eq!(g.queue(), (0, false), "the lead was freed");
    }

    #[test]
    fn a_commit_that_cannot_begin_fails_its_group_once() {
        let store = store();
        // Another connection holds the write lock; the writer does not wait.
        let other = Connection::open(&store.path).unwrap();
        other.execute_batch("BEGIN IMMEDIATE").unwrap();
        lock(&store.writer).busy_timeout(Duration::from_millis(50)).unwrap();
        let group: Vec<Arc<Entry<ThreadId>>> = (2..=4).map(|n| Arc::new(Entry { job: store.write(n), events: 1, outcome: Mutex::new(None) })).collect();
        file_group(&store.writer, &group);
        for entry in &group {
            match lock(&entry.outcome).take() {
                Some(Err(e @ DbError::SharedCommit(_))) => assert!(e.to_string().contains("locked"), "{e}"),
                other => panic!("expected the shared failure, got {other:?}"),
            }
        }
        assert_eq!(store.runs(), vec![], "no push was tried, alone or together");
        other.execute_batch("ROLLBACK").unwrap();
        assert!(GroupCommit::default().run(&store.writer, 1, store.write(5)).is_ok());
    }

    #[test]
    fn a_group_stops_at_its_size_cap() {
        let entries = |sizes: &[usize]| -> VecDeque<Arc<Entry<()>>> {
            sizes.iter().map(|&events| Arc::new(Entry { job: Box::new(|_| Ok(())), events, outcome: Mutex::new(None) })).collect()
        };
        let sizes = |g: Vec<Arc<Entry<()>>>| g.iter().map(|e| e.events).collect::<Vec<_>>();
        let mut waiting = entries(&[5_000, 2_000, 1_000, 1, 300]);
        assert_eq!(sizes(take_group(&mut waiting)), vec![5_000, 2_000, 1_000]);
        assert_eq!(sizes(take_group(&mut waiting)), vec![1, 300]);
        assert!(waiting.is_empty());
        let mut huge = entries(&[20_000, 1]);
        assert_eq!(sizes(take_group(&mut huge)), vec![20_000], "an oversized push still goes, alone");
    }
}
