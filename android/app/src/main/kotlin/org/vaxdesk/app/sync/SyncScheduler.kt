package org.vaxdesk.app.sync

import android.app.job.JobInfo
import android.app.job.JobScheduler
import android.content.ComponentName
import android.content.Context

/**
 * Background sync through the framework's JobScheduler: the system runs the
 * job when a network is there, so saves made offline go out by themselves.
 */
object SyncScheduler {
    const val PERIODIC_JOB = 1
    const val SOON_JOB = 2
    private const val PERIOD_MS = 15 * 60 * 1000L

    fun schedulePeriodic(ctx: Context) {
        val js = ctx.getSystemService(JobScheduler::class.java) ?: return
        if (js.getPendingJob(PERIODIC_JOB) != null) return
        js.schedule(
            JobInfo.Builder(PERIODIC_JOB, ComponentName(ctx, SyncJobService::class.java))
                .setRequiredNetworkType(JobInfo.NETWORK_TYPE_ANY)
                .setPeriodic(PERIOD_MS)
                .setPersisted(true)
                .build(),
        )
    }

    /** After a save: send it as soon as there is a network. */
    fun syncSoon(ctx: Context) {
        val js = ctx.getSystemService(JobScheduler::class.java) ?: return
        // Scheduling again would stop a job that is running (or restart its
        // wait): one pending or running sync sends this save too.
        if (js.getPendingJob(SOON_JOB) != null) return
        js.schedule(
            JobInfo.Builder(SOON_JOB, ComponentName(ctx, SyncJobService::class.java))
                .setRequiredNetworkType(JobInfo.NETWORK_TYPE_ANY)
                .setBackoffCriteria(30_000, JobInfo.BACKOFF_POLICY_EXPONENTIAL)
                .build(),
        )
    }
}
