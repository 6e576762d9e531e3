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
//!
//! The log's flush is not made under the writer (ADR 0038): a group commits
//! with `synchronous=NORMAL` (no flush at COMMIT; every other write of the
//! hub stays `FULL`), the writer and the lead go to the next group, and the
//! group's leader then flushes the log file (through a descriptor opened
//! before the group wrote, so a write-back error on its pages is reported to
//! it) and only then answers its pushes. So a slow disk's flush overlaps the
//! next group's filing instead of adding to every group's time. Until the
//! flush, the group's rows are seen by readers but could still be lost with
//! the power: the feed rows from the group's first on are marked unflushed
//! until a flush succeeds, and desks' pulls hand out only rows below the
//! mark ([`GroupCommit::unflushed_from`]), so no desk ever holds a feed
//! position the hub could give again after a crash. A flush that fails
//! stops the pushes until the hub is restarted (and SQLite recovers from
//! what the disk holds): after a failed `fdatasync` the kernel may already
//! have dropped the pages, and a later flush would succeed without them.

use std::collections::{BTreeMap, VecDeque};
use std::fs::File;
use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use rusqlite::{Connection, Transaction, TransactionBehavior};

use super::{DbError, Result};

/// The most events one shared commit files: a push is at most 500 events,
/// so up to 16 full pushes. A push larger than this still goes, alone.
pub(crate) const MAX_GROUP_EVENTS: usize = 8_000;

/// A push's filing, run on whichever thread leads its group, and run again
/// alone if its group is rolled back.
pub(crate) type Job<T> = Box<dyn Fn(&Transaction<'_>) -> Result<T> + Send + Sync>;

/// Where the rows readers hand out end now (the hub: its feed's last
/// seq), read on the writer before a group is filed; rows past it are the
/// group's.
pub(crate) type Mark = fn(&Connection) -> rusqlite::Result<i64>;

/// Makes the log file's content durable (`fdatasync`; tests hold it).
type Flush = Box<dyn Fn(&File) -> std::io::Result<()> + Send + Sync>;

pub(crate) struct GroupCommit<T> {
    state: Mutex<Queue<T>>,
    /// Rung when a group's outcomes are set, and when the lead is free again.
    turn: Condvar,
    /// The database's log file, flushed after each group's commit.
    wal: PathBuf,
    mark: Mark,
    flush: Flush,
    /// The first row of each group committed and not yet flushed (a count,
    /// as two groups could start at the same row).
    unflushed: Mutex<BTreeMap<i64, usize>>,
    /// Why pushes are refused until the hub restarts: a flush failed.
    failed: Mutex<Option<String>>,
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

fn fdatasync(log: &File) -> std::io::Result<()> {
    log.sync_data()
}

impl<T> GroupCommit<T> {
    /// Groups for the database whose log file is `wal`.
    pub(crate) fn new(wal: PathBuf, mark: Mark) -> Self {
        Self::with_flush(wal, mark, Box::new(fdatasync))
    }

    fn with_flush(wal: PathBuf, mark: Mark, flush: Flush) -> Self {
        GroupCommit {
            state: Mutex::new(Queue { waiting: VecDeque::new(), leading: false }),
            turn: Condvar::new(),
            wal,
            mark,
            flush,
            unflushed: Mutex::new(BTreeMap::new()),
            failed: Mutex::new(None),
        }
    }

    /// Marks rows from `from` on as committed and not flushed, as a group
    /// in its flush does (for tests of readers).
    #[cfg(test)]
    pub(crate) fn hold_from(&self, from: i64) {
        *lock(&self.unflushed).entry(from).or_default() += 1;
    }

    #[cfg(test)]
    pub(crate) fn release_from(&self, from: i64) {
        lock(&self.unflushed).remove(&from);
    }

    /// The first row a reader must not hand out yet (committed, not yet
    /// flushed); `None` when every commit is flushed.
    pub(crate) fn unflushed_from(&self) -> Option<i64> {
        lock(&self.unflushed).keys().next().copied()
    }

    /// File `job` (a push of `events` events) on `writer`, with whatever
    /// other pushes are waiting, and return its own outcome once committed
    /// and flushed.
    pub(crate) fn run(&self, writer: &Mutex<Connection>, events: usize, job: Job<T>) -> Result<T> {
        let mine = Arc::new(Entry { job, events, outcome: Mutex::new(None) });
        let mut state = lock(&self.state);
        state.waiting.push_back(Arc::clone(&mine));
        loop {
            if let Some(out) = lock(&mine.outcome).take() {
                return out;
            }
            // A push taken into a group waits for that group's answer, the
            // lead free or not.
            if state.leading || !state.waiting.iter().any(|e| Arc::ptr_eq(e, &mine)) {
                state = self.turn.wait(state).unwrap_or_else(|e| e.into_inner());
                continue;
            }
            let group = take_group(&mut state.waiting);
            state.leading = true;
            drop(state);
            self.lead(writer, group);
            state = lock(&self.state);
        }
    }
}

impl<T> GroupCommit<T> {
    /// File `group`, free the writer and the lead, flush, answer.
    fn lead(&self, writer: &Mutex<Connection>, group: Vec<Arc<Entry<T>>>) {
        // Answers whatever is left unanswered (a panic), flushes what was
        // filed and drops the mark once flushed, however this ends.
        let mut answering = Answering { owner: self, group, from: None, log: None, flushed: false };
        let lead = Lead { owner: self };
        if let Some(why) = lock(&self.failed).clone() {
            for entry in &answering.group {
                entry.answer(Err(DbError::SharedCommit(why.clone())));
            }
            return;
        }
        let outcomes = self.file_group(writer, &answering.group, &mut answering.from, &mut answering.log);
        drop(lead);
        let flushed = answering.flush();
        for (entry, outcome) in answering.group.iter().zip(outcomes) {
            entry.answer(match (&flushed, outcome) {
                // Committed, but not known to be on the disk: the desk is
                // told to send again (its events are taken once).
                (Err(why), Ok(_)) => Err(DbError::SharedCommit(why.clone())),
                (_, outcome) => outcome,
            });
        }
    }

    /// Every push's outcome, committed but not flushed. `log` is set to the
    /// log file, opened before anything is written, and `marked` to the
    /// group's mark as soon as it is taken.
    fn file_group(&self, writer: &Mutex<Connection>, group: &[Arc<Entry<T>>], marked: &mut Option<i64>, log: &mut Option<File>) -> Vec<Result<T>> {
        let mut conn = Unflushed::new(lock(writer));
        let shared = |e: &dyn std::fmt::Display| group.iter().map(|_| Err(DbError::SharedCommit(e.to_string()))).collect();
        match File::open(&self.wal) {
            Ok(f) => *log = Some(f),
            Err(e) => return shared(&format!("the hub's log {}: {e}", self.wal.display())),
        }
        let from = match (self.mark)(&conn) {
            Ok(last) => last + 1,
            Err(e) => return shared(&e),
        };
        // Marked before COMMIT makes the rows visible.
        *lock(&self.unflushed).entry(from).or_default() += 1;
        *marked = Some(from);
        match conn.set_normal() {
            Err(e) => shared(&e),
            Ok(()) => file_group_in(&mut conn, group),
        }
    }

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

/// The lead, freed when dropped (the group filed, or a panic).
struct Lead<'a, T> {
    owner: &'a GroupCommit<T>,
}

impl<T> Drop for Lead<'_, T> {
    fn drop(&mut self) {
        lock(&self.owner.state).leading = false;
        self.owner.turn.notify_all();
    }
}

/// A group between its filing and its answers.
struct Answering<'a, T> {
    owner: &'a GroupCommit<T>,
    group: Vec<Arc<Entry<T>>>,
    /// The group's mark, once taken.
    from: Option<i64>,
    /// The log file, opened before the group wrote; `None` once flushed or
    /// failed.
    log: Option<File>,
    flushed: bool,
}

impl<T> Answering<'_, T> {
    /// Flush what the group wrote; a failure refuses every push from now on.
    fn flush(&mut self) -> std::result::Result<(), String> {
        let Some(log) = self.log.take() else {
            return Ok(());
        };
        match (self.owner.flush)(&log) {
            Ok(()) => {
                self.flushed = true;
                Ok(())
            }
            Err(e) => {
                let why = format!("the hub's log could not be flushed ({e}): pushes are refused until the hub is restarted");
                tracing::error!(error = %e, "the hub's log could not be flushed; pushes refused until a restart");
                *lock(&self.owner.failed) = Some(why.clone());
                Err(why)
            }
        }
    }
}

impl<T> Drop for Answering<'_, T> {
    fn drop(&mut self) {
        // Jobs' panics are caught; this is for one in the filing itself,
        // which may have come after the commit.
        if self.log.is_some() {
            let _ = self.flush();
        }
        for e in self.group.iter().filter(|e| !e.answered()) {
            e.answer(Err(DbError::Interrupted));
        }
        // Rows not known to be on the disk stay held back from pulls.
        if let Some(from) = self.from.filter(|_| self.flushed) {
            let mut unflushed = lock(&self.owner.unflushed);
            if let Some(n) = unflushed.get_mut(&from) {
                *n -= 1;
                if *n == 0 {
                    unflushed.remove(&from);
                }
            }
        }
        // Under the queue's lock, so a waiter cannot miss it between its
        // check and its wait.
        let _state = lock(&self.owner.state);
        self.owner.turn.notify_all();
    }
}

/// The writer, set to commit without a flush while a group is filed and set
/// back to `synchronous=FULL` when dropped, whatever happened: enrollment and
/// every other write flush at their commit.
struct Unflushed<'a>(MutexGuard<'a, Connection>);

impl<'a> Unflushed<'a> {
    fn new(conn: MutexGuard<'a, Connection>) -> Self {
        Unflushed(conn)
    }

    fn set_normal(&self) -> rusqlite::Result<()> {
        self.0.pragma_update(None, "synchronous", "NORMAL")
    }
}

impl Drop for Unflushed<'_> {
    fn drop(&mut self) {
        if let Err(e) = self.0.pragma_update(None, "synchronous", "FULL") {
            tracing::error!(error = %e, "the hub's writer could not be set back to flush at each commit");
        }
    }
}

impl std::ops::Deref for Unflushed<'_> {
    type Target = Connection;
    fn deref(&self) -> &Connection {
        &self.0
    }
}

impl std::ops::DerefMut for Unflushed<'_> {
    fn deref_mut(&mut self) -> &mut Connection {
        &mut self.0
    }
}

/// Why a group was not committed.
enum Failed {
    /// A push failed: nothing of the group was kept.
    Push,
    /// The transaction could not begin or commit (a busy or failing disk).
    Transaction(DbError),
}

/// Each push's outcome, in the group's order.
fn file_group_in<T>(conn: &mut Connection, group: &[Arc<Entry<T>>]) -> Vec<Result<T>> {
    if let [only] = group {
        return vec![file_alone(conn, only)];
    }
    match file_together(conn, group) {
        Ok(outcomes) => outcomes.into_iter().map(Ok).collect(),
        // Filed again one by one, so only the push that fails gets an error.
        Err(Failed::Push) => group.iter().map(|entry| file_alone(conn, entry)).collect(),
        // Not any one push's doing, and likely to fail again: every push is
        // told, once (a desk retries a storage error).
        Err(Failed::Transaction(e)) => group.iter().map(|_| Err(DbError::SharedCommit(e.to_string()))).collect(),
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
        c.execute_batch("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; CREATE TABLE pushed (push INTEGER PRIMARY KEY, at INTEGER NOT NULL)").unwrap();
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

    /// The last push written, as the hub's mark reads its feed.
    fn last_push(c: &Connection) -> rusqlite::Result<i64> {
        c.query_row("SELECT coalesce(max(push), 0) FROM pushed", [], |r| r.get(0))
    }

    fn wal(store: &Store) -> PathBuf {
        PathBuf::from(format!("{}-wal", store.path.display()))
    }

    fn filer(store: &Store) -> GroupCommit<ThreadId> {
        GroupCommit::new(wal(store), last_push)
    }

    fn synchronous(store: &Store) -> i64 {
        lock(&store.writer).query_row("PRAGMA synchronous", [], |r| r.get(0)).unwrap()
    }

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
        let g = Arc::new(filer(&store));
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
        let g = Arc::new(filer(&store));
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
        let g = Arc::new(filer(&store));
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
        let g = Arc::new(filer(&store));
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
        let g = Arc::new(filer(&store));
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
        let outcomes = filer(&store).file_group(&store.writer, &group, &mut None, &mut None);
        assert_eq!(outcomes.len(), 3);
        for outcome in outcomes {
            match outcome {
                Err(e @ DbError::SharedCommit(_)) => assert!(e.to_string().contains("locked"), "{e}"),
                other => panic!("expected the shared failure, got {other:?}"),
            }
        }
        assert_eq!(store.runs(), vec![], "no push was tried, alone or together");
        other.execute_batch("ROLLBACK").unwrap();
        assert!(filer(&store).run(&store.writer, 1, store.write(5)).is_ok());
    }

    /// A flush that announces itself and waits to be let go, once a call.
    fn held_flush() -> (Flush, mpsc::Receiver<()>, mpsc::Sender<()>) {
        let (flushing, flushes) = mpsc::channel::<()>();
        let (release, released) = mpsc::channel::<()>();
        let (flushing, released) = (Mutex::new(flushing), Mutex::new(released));
        let hold: Flush = Box::new(move |log| {
            lock(&flushing).send(()).unwrap();
            lock(&released).recv_timeout(Duration::from_secs(10)).unwrap();
            fdatasync(log)
        });
        (hold, flushes, release)
    }

    #[test]
    fn a_group_is_answered_after_its_flush_and_the_next_group_files_meanwhile() {
        let store = store();
        let (hold, flushes, release) = held_flush();
        let g = Arc::new(GroupCommit::with_flush(wal(&store), last_push, hold));
        // Pushes 2 and 3 queue behind push 1 and are filed together, one of
        // them leading the group, the other only waiting for its answer.
        let (go, threads) = behind_a_slow_push(&g, &store, vec![store.write(2), store.write(3)]);
        go.send(()).unwrap();
        flushes.recv_timeout(Duration::from_secs(10)).unwrap();
        // Push 1 is committed and seen, its rows marked, the writer back at
        // FULL; the next group files and commits while push 1 flushes.
        assert_eq!(g.unflushed_from(), Some(1));
        assert_eq!(synchronous(&store), 2, "the writer is set back to FULL for every other write");
        flushes.recv_timeout(Duration::from_secs(10)).unwrap();
        assert_eq!(committed(&store.path), 3, "the second group committed during the first one's flush");
        assert_eq!(g.unflushed_from(), Some(1), "the older group's mark holds readers back");
        assert!(threads.iter().all(|t| !t.is_finished()), "no push is answered before its group's flush");
        release.send(()).unwrap();
        release.send(()).unwrap();
        let joined = join(threads);
        assert!(joined.iter().all(|(_, r, _)| r.is_ok()), "{joined:?}");
        let leaders: std::collections::HashSet<_> = joined.iter().map(|(_, r, _)| *r.as_ref().unwrap()).collect();
        assert_eq!(leaders.len(), 2, "two groups: push 1, then 2 and 3 together");
        assert_eq!(g.unflushed_from(), None, "every commit flushed");
    }

    #[test]
    fn a_group_commits_without_a_flush_of_its_own() {
        let store = store();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (write, record) = (store.write(1), Arc::clone(&seen));
        let job: Job<ThreadId> = Box::new(move |tx| {
            lock(&record).push(tx.query_row("PRAGMA synchronous", [], |r| r.get::<_, i64>(0))?);
            write(tx)
        });
        filer(&store).run(&store.writer, 1, job).unwrap();
        assert_eq!(*lock(&seen), vec![1], "NORMAL while the group is filed: its flush comes after");
        assert_eq!(synchronous(&store), 2);
    }

    #[test]
    fn a_flush_that_fails_refuses_every_push_until_a_restart() {
        let store = store();
        let g = GroupCommit::with_flush(wal(&store), last_push, Box::new(|_| Err(std::io::Error::other("the disk went away"))));
        let refused = |r: Result<ThreadId>| match r {
            Err(DbError::SharedCommit(e)) => assert!(e.contains("could not be flushed") && e.contains("the disk went away") && e.contains("restart"), "{e}"),
            other => panic!("a push whose commit may not be on the disk was answered {other:?}"),
        };
        refused(g.run(&store.writer, 1, store.write(1)));
        // Committed, but not known to be on the disk: held back from pulls.
        assert_eq!(committed(&store.path), 1);
        assert_eq!(g.unflushed_from(), Some(1));
        assert_eq!(synchronous(&store), 2);
        // The kernel may have dropped the pages: a later flush could succeed
        // without them, so nothing more is taken.
        refused(g.run(&store.writer, 1, store.write(2)));
        assert_eq!(committed(&store.path), 1, "nothing filed after the failure");
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
