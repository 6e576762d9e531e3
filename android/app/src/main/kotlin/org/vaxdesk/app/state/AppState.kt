package org.vaxdesk.app.state

import org.vaxdesk.core.ScanResult

/**
 * The shell's state in one place. The records themselves live in the core;
 * this is only what the screens need between taps. It lives as long as the
 * process: what must survive a process death is in each screen's saved
 * state instead.
 */
class AppState {
    /** elapsedRealtime when the app went to the background; null while in front. */
    @Volatile var backgroundSince: Long? = null
    /** The PIN was entered in this process and the app has not been away long since. */
    @Volatile var unlocked = false
    /** The last save, shown on the scan screen as a confirmation. */
    @Volatile var lastSaved: String? = null
    /** Whose dose that was: the scan screen offers their certificate. */
    @Volatile var lastSavedPerson: String? = null
    /** A code scanned on the enroll screen's camera, waiting to be used. */
    @Volatile var scannedEnrollCode: ScanResult? = null
    /** The PIN was just changed: the settings screen says so once. */
    @Volatile var pinChanged = false
    /**
     * Visits (by the id each visit screen draws) whose save finished: a visit
     * screen recreated while its save ran learns here that it is done,
     * instead of offering to save again.
     */
    val savedVisits: MutableSet<String> = java.util.concurrent.ConcurrentHashMap.newKeySet()
}
