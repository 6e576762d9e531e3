package org.vaxdesk.app.state

import org.vaxdesk.core.ScanResult

/**
 * The shell's state in one place. The records themselves live in the core;
 * this is only what the screens need between taps.
 */
class AppState {
    /** elapsedRealtime when the app went to the background; null while in front. */
    var backgroundSince: Long? = null
    /** The PIN was entered in this process and the app has not been away long since. */
    var unlocked = false
    /** The last save, shown on the scan screen as a confirmation. */
    var lastSaved: String? = null
    /** Whose dose that was: the scan screen offers their certificate. */
    var lastSavedPerson: String? = null
    /** A code scanned on the enroll screen's camera, waiting to be used. */
    var scannedEnrollCode: ScanResult? = null
}
