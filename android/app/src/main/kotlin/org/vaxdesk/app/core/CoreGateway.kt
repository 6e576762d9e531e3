package org.vaxdesk.app.core

import android.content.Context
import android.os.Handler
import android.os.Looper
import java.io.File
import java.util.concurrent.Executor
import java.util.concurrent.Executors
import org.vaxdesk.core.Desk
import org.vaxdesk.core.PinCheck
import org.vaxdesk.core.databaseKey
import org.vaxdesk.core.PinLock
import org.vaxdesk.core.Scanner
import org.vaxdesk.core.VaxdeskException

/** What a core call gave: its value, or the core's typed error. */
sealed class Outcome<out T> {
    data class Ok<T>(val value: T) : Outcome<T>()
    data class Failed(val error: VaxdeskException) : Outcome<Nothing>()
}

/**
 * The shell's only door to the core. Core calls block (disk, network), so
 * they run on one background thread, in the order asked, and their results
 * come back on the main thread. Every decision is the core's; this class
 * only moves calls between threads and holds the desk once it is open.
 *
 * The desk's database is plain only between enrolling and setting the PIN;
 * from then on it is encrypted under the PIN's key (ADR 0009). It opens with
 * that key kept in the [KeyVault] (so the background sync needs no PIN) or,
 * where the keystore cannot give it back, when the volunteer types the PIN.
 */
class CoreGateway(
    private val dbPath: String,
    val scanner: Scanner,
    val pin: PinLock,
    private val pinFile: File,
    private val vault: KeyVault,
    private val io: Executor,
    private val main: Executor,
) {
    @Volatile private var opened: Desk? = null

    /** The open desk. Screens that use it are shown only once it is open. */
    val desk: Desk get() = checkNotNull(opened) { "the desk's database stays closed until the PIN is typed" }

    val isOpen: Boolean get() = opened != null

    fun <T> run(work: (Desk) -> T, done: (Outcome<T>) -> Unit) = call({ work(desk) }, done)

    /** Any core call on the core thread; its outcome comes back on the main thread. */
    fun <T> call(work: () -> T, done: (Outcome<T>) -> Unit) {
        io.execute {
            val result: Outcome<T> = try {
                Outcome.Ok(work())
            } catch (e: VaxdeskException) {
                Outcome.Failed(e)
            }
            main.execute { done(result) }
        }
    }

    /** Run [work] on the main thread (results of camera-thread decodes). */
    fun onMain(work: () -> Unit) = main.execute(work)

    /**
     * Open the desk without the PIN where that is allowed: a desk with no PIN
     * yet (plain), or one whose key the keystore kept. False when the PIN
     * must be typed first. A kept key that no longer fits is forgotten.
     */
    @Synchronized
    fun openWithoutPin(): Boolean {
        if (opened != null) return true
        if (!pin.isSet()) {
            opened = Desk.open(dbPath, null)
            return true
        }
        val key = vault.load() ?: return false
        try {
            opened = Desk.openWithKey(dbPath, key)
        } catch (e: VaxdeskException.Storage) {
            if (e.code != "storage.wrong_key") throw e
            vault.clear()
            return false
        } finally {
            key.fill(0)
        }
        return true
    }

    /**
     * The core accepted [typedPin]: open the database with its key (if not
     * open yet) and keep the key wrapped for the background sync.
     */
    @Synchronized
    fun unlock(typedPin: String) {
        if (opened != null && vault.load()?.also { it.fill(0) } != null) return
        val key = databaseKey(dbPath, typedPin)
        try {
            if (opened == null) opened = Desk.openWithKey(dbPath, key)
            vault.store(key)
        } finally {
            key.fill(0)
        }
    }

    /** The first PIN: the plain database made at enrollment is encrypted under it. */
    @Synchronized
    fun setPin(newPin: String) {
        closeDesk()
        try {
            pin.setAndEncrypt(dbPath, newPin)
        } catch (e: VaxdeskException) {
            opened = Desk.open(dbPath, null) // left as it was: plain
            throw e
        }
        unlock(newPin)
    }

    /**
     * A PIN change: the old PIN is checked (and counted) by the core while
     * the desk stays open; only then is the database closed and re-keyed.
     */
    @Synchronized
    fun changePin(old: String, new: String): PinCheck {
        val checked = pin.check(old)
        if (checked !is PinCheck.Unlocked) return checked
        closeDesk()
        val result = try {
            pin.changeAndRekey(dbPath, old, new)
        } catch (e: VaxdeskException) {
            unlock(old) // a new PIN the rules refuse: nothing was re-keyed
            throw e
        }
        if (result is PinCheck.Unlocked) {
            vault.clear()
            unlock(new)
        } else {
            unlock(old)
        }
        return result
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
    @Synchronized
    fun setAside(): File? {
        closeDesk()
        val db = File(dbPath)
        val home = db.parentFile ?: return null
        val into = File(home, "set-aside/${System.currentTimeMillis()}")
        if (!into.mkdirs()) return null
        val moving = home.listFiles { f -> f.isFile && f.name.startsWith(db.name) }.orEmpty().toList() + pinFile
        if (!moving.filter { it.exists() }.all { it.renameTo(File(into, it.name)) }) return null
        vault.clear()
        opened = Desk.open(dbPath, null) // a fresh desk, plain until its PIN is set
        return into
    }

    /** Close the database (its last writes checkpointed) so it can be re-keyed. */
    private fun closeDesk() {
        opened?.close()
        opened = null
    }

    companion object {
        /**
         * Tests replace the executors with ones that run at once, so a tap's
         * effect is visible when `performClick` returns.
         */
        @Volatile var executorsForTest: Pair<Executor, Executor>? = null

        fun open(context: Context): CoreGateway {
            val dir = context.filesDir
            val (io, main) = executorsForTest ?: Pair(
                Executors.newSingleThreadExecutor { r -> Thread(r, "vaxdesk-core") },
                Handler(Looper.getMainLooper()).let { h -> Executor { h.post(it) } },
            )
            return CoreGateway(
                dbPath = File(dir, "desk.db").path,
                scanner = Scanner(),
                pin = PinLock.open(File(dir, "pin.json").path),
                pinFile = File(dir, "pin.json"),
                vault = KeyVault.forDevice(File(dir, "desk.key")),
                io = io,
                main = main,
            )
        }
    }
}
