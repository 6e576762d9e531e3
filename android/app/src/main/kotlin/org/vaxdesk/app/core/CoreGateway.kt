package org.vaxdesk.app.core

import android.content.Context
import android.os.Handler
import android.os.Looper
import java.io.File
import java.util.concurrent.Executor
import java.util.concurrent.Executors
import org.vaxdesk.core.Desk
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
 * only moves calls between threads.
 */
class CoreGateway(
    val desk: Desk,
    val scanner: Scanner,
    val pin: PinLock,
    private val io: Executor,
    private val main: Executor,
) {
    fun <T> run(work: (Desk) -> T, done: (Outcome<T>) -> Unit) {
        io.execute {
            val result: Outcome<T> = try {
                Outcome.Ok(work(desk))
            } catch (e: VaxdeskException) {
                Outcome.Failed(e)
            }
            main.execute { done(result) }
        }
    }

    /** Run [work] on the main thread (results of camera-thread decodes). */
    fun onMain(work: () -> Unit) = main.execute(work)

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
                desk = Desk.open(File(dir, "desk.db").path, null),
                scanner = Scanner(),
                pin = PinLock.open(File(dir, "pin.json").path),
                io = io,
                main = main,
            )
        }
    }
}
