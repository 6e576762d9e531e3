package org.vaxdesk.app.core

import android.content.Context
import android.os.Handler
import android.os.Looper
import java.io.File
import java.util.concurrent.Executor
import java.util.concurrent.Executors
import java.util.concurrent.locks.ReentrantReadWriteLock
import kotlin.concurrent.read
import org.vaxdesk.core.Desk
import org.vaxdesk.core.PinCheck
import org.vaxdesk.core.PinLock
import org.vaxdesk.core.Scanner
import org.vaxdesk.core.SessionInfo
import org.vaxdesk.core.StatusInfo
import org.vaxdesk.core.VaccineInfo
import org.vaxdesk.core.VaxdeskException
import org.vaxdesk.core.databaseKey

/** What a core call gave: its value, or an error the screen can show. */
sealed class Outcome<out T> {
    data class Ok<T>(val value: T) : Outcome<T>()
    data class Failed(val error: VaxdeskException) : Outcome<Nothing>()
}

/**
 * What the screens show of the desk, read on a core thread after every call
 * and kept here, so that building a screen on the main thread never touches
 * the database (which may be closed for a re-key, or slow to open).
 */
data class DeskFacts(
    val status: StatusInfo,
    val session: SessionInfo?,
    /** Vaccines of the catalog in force that have lots. */
    val vaccines: List<VaccineInfo>,
    /** An enrollment code sent whose reply never came (finish it). */
    val pendingEnrollment: String?,
    /** A PIN is set (and the database encrypted under it). */
    val pinSet: Boolean,
    /** The core library's version, for the about screen. */
    val coreVersion: String,
) {
    val enrolled: Boolean get() = status.hub != null
}

/** How the app can start: what the start-up read on a core thread found. */
sealed class Start {
    /** The database is open. */
    data class Ready(val facts: DeskFacts) : Start()
    /** A PIN is set and the keystore could not give the key back: the PIN opens it. */
    object NeedsPin : Start()
    /** The database cannot be opened (damaged): the volunteer decides. */
    data class Damaged(val error: VaxdeskException, val pinSet: Boolean) : Start()
}

/**
 * The shell's only door to the core. Core calls block (disk, network), so
 * none runs on the main thread: they run on one of two lanes and their
 * results come back on the main thread.
 *
 * - the work lane: saves, look-ups, the PIN, opening the database;
 * - the sync lane: pushes, pulls and certificate fetches, which may wait
 *   minutes on a congested network. A save never waits behind a sync.
 *
 * The database is closed and re-keyed when the PIN is set or changed; that
 * takes the [gate] for writing, so no call on either lane uses the desk
 * meanwhile, and calls that come later wait for the re-key, not fail.
 *
 * Anything a call throws reaches the screen as [Outcome.Failed]: the core's
 * typed errors, and anything else (a core panic turned into an exception by
 * uniffi, an IllegalStateException) wrapped as `Internal`, so no callback is
 * skipped and the process does not die.
 *
 * The desk's database is plain only between enrolling and setting the PIN;
 * from then on it is encrypted under the PIN's key (ADR 0009). It opens with
 * that key kept in the [KeyVault] (so the background sync needs no PIN) or,
 * where the keystore cannot give it back, when the volunteer types the PIN.
 */
class CoreGateway(
    private val dbPath: String,
    private val pinFile: File,
    private val vault: KeyVault,
    private val lanes: Lanes,
) {
    /** Where calls run; tests give their own. */
    class Lanes(val work: Executor, val sync: Executor, val main: Executor)

    // The generated bindings load the native library (through JNA) on first
    // use: these are touched on a core thread first, never at construction.
    val scanner: Scanner by lazy { Scanner() }
    val pin: PinLock by lazy { PinLock.open(pinFile.path) }

    private val gate = ReentrantReadWriteLock()
    /** The kept key's file, read and written apart from the database's gate. */
    private val vaultLock = Any()
    /** One reader of the facts at a time: the last one read is the newest. */
    private val factsLock = Any()
    @Volatile private var opened: Desk? = null

    /** The latest [DeskFacts]; null until the database is open. */
    @Volatile var facts: DeskFacts? = null
        private set

    val isOpen: Boolean get() = opened != null

    /** A call on the work lane with the open desk. */
    fun <T> run(work: (Desk) -> T, done: (Outcome<T>) -> Unit) = post(lanes.work, { withDesk(work) }, done)

    /** A call on the sync lane with the open desk (network: may take minutes). */
    fun <T> sync(work: (Desk) -> T, done: (Outcome<T>) -> Unit) = post(lanes.sync, { withDesk(work) }, done)

    /** Any core call on the work lane (PIN, opening); its outcome comes back on the main thread. */
    fun <T> call(work: () -> T, done: (Outcome<T>) -> Unit) = post(lanes.work, work, done)

    /** Any core call on the sync lane (the background job: open, then sync). */
    fun <T> syncCall(work: () -> T, done: (Outcome<T>) -> Unit) = post(lanes.sync, work, done)

    /** Run [work] on the main thread (results of camera-thread decodes). */
    fun onMain(work: () -> Unit) = lanes.main.execute(work)

    /**
     * Blocking use of the open desk, for code already off the main thread
     * (the sync job's own thread, tests). Waits for a re-key to finish.
     */
    fun <T> withDesk(work: (Desk) -> T): T = gate.read {
        val d = opened ?: throw VaxdeskException.NotSetUp("the desk's database is not open (the PIN opens it)")
        work(d).also { refreshFacts(d) }
    }

    private fun <T> post(lane: Executor, work: () -> T, done: (Outcome<T>) -> Unit) {
        lane.execute {
            val result = attempt(work)
            lanes.main.execute { done(result) }
        }
    }

    private fun refreshFacts(d: Desk) = synchronized(factsLock) {
        facts = try {
            DeskFacts(d.status(), d.session(), d.vaccines().filter { it.lots.isNotEmpty() }, d.pendingEnrollment(), pin.isSet(), org.vaxdesk.core.coreVersion())
        } catch (e: Exception) {
            facts // keep the last good read; the call's own outcome says what went wrong
        }
    }

    /**
     * The write side of the gate, for closing or re-keying the database:
     * it waits for calls using the desk (a sync waiting on the network holds
     * one for as long as its retries last), but not for ever.
     */
    private fun <T> exclusive(work: () -> T): T {
        val lock = gate.writeLock()
        if (!lock.tryLock(WAIT_FOR_CALLS_S, java.util.concurrent.TimeUnit.SECONDS)) {
            throw VaxdeskException.Sync("sync.busy", "a sync is still running; try again in a moment", true)
        }
        try {
            return work()
        } finally {
            lock.unlock()
        }
    }

    /**
     * Start-up, on the work lane: load the library, open the database
     * without the PIN where that is allowed (no PIN yet: plain; or the key
     * the keystore kept), and read the facts the first screen needs.
     */
    fun start(done: (Outcome<Start>) -> Unit) = call({
        val pinSet = pin.isSet()
        try {
            if (openWithoutPin()) Start.Ready(checkNotNull(facts) { "the desk opened but could not be read" }) else Start.NeedsPin
        } catch (e: VaxdeskException) {
            // Behind a PIN the lock screen comes first (the right PIN then
            // leads to the problem); without one, the problem shows at once.
            if (pinSet) Start.NeedsPin else Start.Damaged(e, false)
        }
    }, done)

    /**
     * Open the desk without the PIN where that is allowed: a desk with no PIN
     * yet (plain), or one whose key the keystore kept. False when the PIN
     * must be typed first. A kept key that no longer fits is forgotten; a
     * keystore that fails (common on cheap phones) counts as no key.
     */
    fun openWithoutPin(): Boolean {
        if (opened != null) return true
        return exclusive { openWithoutPinLocked() }
    }

    private fun openWithoutPinLocked(): Boolean {
        opened?.let { return true }
        if (!pin.isSet()) {
            open(Desk.open(dbPath, null))
            return true
        }
        val key = synchronized(vaultLock) { vault.load() } ?: return false
        try {
            open(Desk.openWithKey(dbPath, key))
        } catch (e: VaxdeskException.Storage) {
            if (e.code != "storage.wrong_key") throw e
            synchronized(vaultLock) { vault.clear() }
            return false
        } finally {
            key.fill(0)
        }
        return true
    }

    private fun open(d: Desk) {
        opened = d
        refreshFacts(d)
    }

    /**
     * The core accepted [typedPin]: open the database with its key (if not
     * open yet) and keep the key wrapped for the background sync. The PIN's
     * bytes are the caller's to wipe.
     */
    fun unlock(typedPin: ByteArray) {
        if (opened != null) {
            // Open already (the sync job opened it with the kept key): no
            // need to wait for a running sync; only a lost kept key is made again.
            synchronized(vaultLock) {
                if (vault.load()?.also { it.fill(0) } != null) return
                val key = databaseKey(dbPath, typedPin)
                try { vault.store(key) } finally { key.fill(0) }
            }
            return
        }
        exclusive { unlockLocked(typedPin) }
    }

    private fun unlockLocked(typedPin: ByteArray) {
        val key = databaseKey(dbPath, typedPin)
        try {
            if (opened == null) open(Desk.openWithKey(dbPath, key))
            synchronized(vaultLock) { vault.store(key) }
        } finally {
            key.fill(0)
        }
    }

    /** The first PIN: the plain database made at enrollment is encrypted under it. */
    fun setPin(newPin: ByteArray) = exclusive {
        closeDesk()
        try {
            pin.setAndEncrypt(dbPath, newPin)
        } catch (e: VaxdeskException) {
            open(Desk.open(dbPath, null)) // left as it was: plain
            throw e
        }
        unlockLocked(newPin)
    }

    /**
     * A PIN change: the old PIN is checked (and counted) by the core while
     * the desk stays open; only then is the database closed and re-keyed.
     */
    fun changePin(old: ByteArray, new: ByteArray): PinCheck = exclusive {
        val checked = pin.check(old)
        if (checked !is PinCheck.Unlocked) return@exclusive checked
        closeDesk()
        val result = try {
            pin.changeAndRekey(dbPath, old, new)
        } catch (e: VaxdeskException) {
            unlockLocked(old) // a new PIN the rules refuse: nothing was re-keyed
            throw e
        }
        if (result is PinCheck.Unlocked) {
            synchronized(vaultLock) { vault.clear() }
            unlockLocked(new)
        } else {
            unlockLocked(old)
        }
        result
    }

    /**
     * A database that cannot be opened even with the right PIN (damaged) is
     * moved, with its salt and the PIN file, into `set-aside/<time>/` beside
     * it: nothing is deleted, so a coordinator can still try to recover
     * unsent doses from it (`VAXDESK_PASSPHRASE=<PIN> vaxdesk --db …`), and
     * the phone starts again from enrollment with a fresh database. Returns
     * that folder, or null when the files could not all be moved (nothing is
     * deleted either way).
     */
    fun setAside(): File? = exclusive {
        closeDesk()
        val db = File(dbPath)
        val home = db.parentFile ?: return@exclusive null
        val into = File(home, "set-aside/${System.currentTimeMillis()}")
        if (!into.mkdirs()) return@exclusive null
        val moving = home.listFiles { f -> f.isFile && f.name.startsWith(db.name) }.orEmpty().toList() + pinFile
        if (!moving.filter { it.exists() }.all { it.renameTo(File(into, it.name)) }) return@exclusive null
        synchronized(vaultLock) { vault.clear() }
        open(Desk.open(dbPath, null)) // a fresh desk, plain until its PIN is set
        into
    }

    /** Close the database (its last writes checkpointed), e.g. to re-key it. */
    fun close() = exclusive { closeDesk() }

    private fun closeDesk() {
        opened?.close()
        opened = null
    }

    companion object {
        /** How long closing the database (a PIN set or change) waits for running calls. */
        const val WAIT_FOR_CALLS_S = 20L

        /** Tests give lanes of their own (run at once, or on real threads). */
        @Volatile var lanesForTest: Lanes? = null

        /** Anything thrown becomes an outcome; only errors of the VM itself go on up. */
        fun <T> attempt(work: () -> T): Outcome<T> = try {
            Outcome.Ok(work())
        } catch (e: VaxdeskException) {
            Outcome.Failed(e)
        } catch (e: Exception) {
            Outcome.Failed(VaxdeskException.Internal("${e.javaClass.simpleName}: ${e.message ?: ""}".trimEnd(' ', ':')))
        } catch (e: LinkageError) {
            // The native library missing or failing to load (UnsatisfiedLinkError,
            // ExceptionInInitializerError): a message, and the callback still runs.
            Outcome.Failed(VaxdeskException.Internal("${e.javaClass.simpleName}: ${e.message ?: ""}".trimEnd(' ', ':')))
        }

        fun open(context: Context): CoreGateway {
            val dir = context.filesDir
            val lanes = lanesForTest ?: Lanes(
                work = Executors.newSingleThreadExecutor { r -> Thread(r, "vaxdesk-core") },
                sync = Executors.newSingleThreadExecutor { r -> Thread(r, "vaxdesk-sync") },
                main = Handler(Looper.getMainLooper()).let { h -> Executor { h.post(it) } },
            )
            return CoreGateway(
                dbPath = File(dir, "desk.db").path,
                pinFile = File(dir, "pin.json"),
                vault = KeyVault.forDevice(File(dir, "desk.key")),
                lanes = lanes,
            )
        }
    }
}
