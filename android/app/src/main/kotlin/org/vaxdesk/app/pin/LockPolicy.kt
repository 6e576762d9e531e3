package org.vaxdesk.app.pin

/** When the PIN screen must come back. The PIN check itself is the core's. */
object LockPolicy {
    /** Away this long and the PIN is asked again. */
    const val BACKGROUND_LIMIT_MS = 5 * 60 * 1000L

    fun mustLock(pinSet: Boolean, unlocked: Boolean, backgroundSince: Long?, now: Long): Boolean = when {
        !pinSet -> false
        !unlocked -> true
        backgroundSince == null -> false
        else -> now - backgroundSince >= BACKGROUND_LIMIT_MS
    }
}
