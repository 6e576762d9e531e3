package org.vaxdesk.app.scan

import android.hardware.camera2.CameraMetadata

/**
 * The camera's settings for reading a card at arm's length, as pure
 * decisions (tested without a camera).
 */
object CameraChoice {
    /** What the decoder is tuned and measured for. */
    const val WANT_W = 1280
    const val WANT_H = 720

    /**
     * The frame size among those the camera offers: 1280x720 when offered;
     * else the 16:9 size nearest it (smaller first: a cheap phone decodes
     * fewer pixels faster), else the size nearest in pixels, never below
     * 640x480. Null when the camera lists nothing (then 1280x720 is asked).
     */
    fun frameSize(offered: List<Pair<Int, Int>>): Pair<Int, Int>? {
        val usable = offered.filter { (w, h) -> w * h >= 640 * 480 }
        if (usable.isEmpty()) return offered.maxByOrNull { (w, h) -> w * h }
        usable.firstOrNull { it == WANT_W to WANT_H }?.let { return it }
        val want = WANT_W.toLong() * WANT_H
        fun distance(s: Pair<Int, Int>) = kotlin.math.abs(s.first.toLong() * s.second - want)
        val wide = usable.filter { (w, h) -> w * 9 == h * 16 }
        return (wide.ifEmpty { usable }).minWithOrNull(compareBy<Pair<Int, Int>>({ distance(it) }, { it.first * it.second }))
    }

    /**
     * Continuous focus for pictures follows a card moved closer; macro is
     * the next best for a card held close; plain auto last. Null: a fixed
     * focus camera (leave the mode alone).
     */
    fun focusMode(available: List<Int>): Int? = listOf(
        CameraMetadata.CONTROL_AF_MODE_CONTINUOUS_PICTURE,
        CameraMetadata.CONTROL_AF_MODE_MACRO,
        CameraMetadata.CONTROL_AF_MODE_AUTO,
    ).firstOrNull { it in available }

    /**
     * The scale (sx, sy) about the view's centre that shows the camera's
     * frames in a view of [viewW]x[viewH] without stretching them: filled
     * and cropped at the edges, as the camera app does. The frames are
     * [frameW]x[frameH] as the sensor gives them; a sensor mounted at 90 or
     * 270 degrees (most phones, held upright) shows them turned.
     */
    fun centerCrop(viewW: Int, viewH: Int, frameW: Int, frameH: Int, sensorDegrees: Int): Pair<Float, Float> {
        if (viewW <= 0 || viewH <= 0 || frameW <= 0 || frameH <= 0) return 1f to 1f
        val turned = sensorDegrees % 180 != 0
        val (fw, fh) = if (turned) frameH.toFloat() to frameW.toFloat() else frameW.toFloat() to frameH.toFloat()
        // The view first stretches the frame to its own size; undo the
        // stretch on the axis that would squash the picture.
        val scale = maxOf(viewW / fw, viewH / fh)
        return (fw * scale / viewW) to (fh * scale / viewH)
    }
}
