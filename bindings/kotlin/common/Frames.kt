// Pictures as the camera's Y plane would give them, for tests and benchmarks.

package org.vaxdesk.testkit

import java.io.File
import javax.imageio.ImageIO

/** A picture file's grey levels (BT.601 luma), row by row, with its size. */
fun luma(file: File): Triple<ByteArray, Int, Int> {
    val img = ImageIO.read(file)
    val out = ByteArray(img.width * img.height)
    for (y in 0 until img.height) for (x in 0 until img.width) {
        val rgb = img.getRGB(x, y)
        out[y * img.width + x] = (((rgb shr 16 and 0xff) * 299 + (rgb shr 8 and 0xff) * 587 + (rgb and 0xff) * 114) / 1000).toByte()
    }
    return Triple(out, img.width, img.height)
}
