package org.vaxdesk.app.sync

import android.app.job.JobParameters
import android.app.job.JobService
import org.vaxdesk.app.VaxdeskApp
import org.vaxdesk.app.core.Outcome
import org.vaxdesk.core.VaxdeskException

/**
 * Runs one sync when the system says the network is up. A transient failure
 * (network, hub busy) asks the system to retry with backoff; a permanent one
 * (device revoked) does not, and shows on the settings screen instead.
 */
class SyncJobService : JobService() {
    override fun onStartJob(params: JobParameters): Boolean {
        // One sync at a time from jobs: a second job finds it running and is done.
        if (!running.compareAndSet(false, true)) return false
        val core = (application as VaxdeskApp).core
        // All of it on the sync lane, never on the main thread the system
        // calls this on. Before the PIN was ever typed on a phone whose
        // keystore could not keep the key, the database stays shut: the job
        // waits for the app. An enrollment whose reply was lost is finished
        // by the sync itself.
        core.syncCall({
            if (!core.openWithoutPin()) return@syncCall false
            val f = core.facts
            if (f == null || !f.enrolled && f.pendingEnrollment == null) return@syncCall false
            core.withDesk { it.syncNow() }
            true
        }) { r ->
            running.set(false)
            val retry = r is Outcome.Failed && (r.error as? VaxdeskException.Sync)?.transient == true
            jobFinished(params, retry)
        }
        return true
    }

    private companion object {
        val running = java.util.concurrent.atomic.AtomicBoolean(false)
    }

    override fun onStopJob(params: JobParameters): Boolean = true
}
