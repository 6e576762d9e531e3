package org.vaxdesk.app.scan

/**
 * Which camera frames get decoded. A phone gives 30 frames a second; decoding
 * each would heat it and queue stale frames. A frame is taken only when no
 * decode is running and [minIntervalMs] has passed since the last one began;
 * the others are dropped, never queued.
 */
class FrameGate(private val minIntervalMs: Long = 150) {
    private var busy = false
    private var lastStart = Long.MIN_VALUE / 2
    var taken = 0L
        private set
    var dropped = 0L
        private set

    @Synchronized
    fun tryEnter(nowMs: Long): Boolean {
        if (busy || nowMs - lastStart < minIntervalMs) {
            dropped++
            return false
        }
        busy = true
        lastStart = nowMs
        taken++
        return true
    }

    @Synchronized
    fun leave() {
        busy = false
    }
}
