// What crossing the FFI costs: a no-op call, and one Scanner.decode of a
// 1280×720 frame from Kotlin against the same decode timed inside Rust.
// Run by scripts/kotlin-bench (release library); prints a table.

import java.io.File
import java.nio.ByteBuffer
import org.vaxdesk.core.*
import org.vaxdesk.testkit.luma

fun median(xs: List<Double>) = xs.sorted()[xs.size / 2]

fun main(args: Array<String>) {
    val (pixels, w, h) = luma(File(args[0]))
    val rounds = 200
    Scanner().use { s ->
        val direct = ByteBuffer.allocateDirect(pixels.size).put(pixels).flip() as ByteBuffer
        // Warm up the JIT and the library.
        repeat(50) { noop(); s.decode(direct, w.toUInt(), h.toUInt(), w.toUInt()) }

        val noopNs = (0 until 5).map {
            val t = System.nanoTime(); repeat(100_000) { noop() }; (System.nanoTime() - t) / 100_000.0
        }
        val fromKotlin = (0 until rounds).map {
            val t = System.nanoTime(); s.decode(direct, w.toUInt(), h.toUInt(), w.toUInt()); (System.nanoTime() - t) / 1e6
        }
        val fromKotlinCopy = (0 until rounds).map {
            val t = System.nanoTime(); s.decodeCopy(pixels, w.toUInt(), h.toUInt(), w.toUInt()); (System.nanoTime() - t) / 1e6
        }
        val inRust = (0 until 5).map { s.timeDecodeInRust(direct, w.toUInt(), h.toUInt(), w.toUInt(), (rounds / 5).toUInt()) }
        val codes = s.decode(direct, w.toUInt(), h.toUInt(), w.toUInt())
        println("frame ${w}x$h, ${codes.size} code(s) read, $rounds decodes each way")
        println("| measure | median |")
        println("|---|---:|")
        println("| no-op call from Kotlin | %.0f ns |".format(median(noopNs)))
        println("| Scanner.decode, direct ByteBuffer, from Kotlin | %.3f ms |".format(median(fromKotlin)))
        println("| Scanner.decodeCopy, ByteArray, from Kotlin | %.3f ms |".format(median(fromKotlinCopy)))
        println("| the same decode timed inside Rust | %.3f ms |".format(median(inRust)))
        println("| FFI overhead per decode (direct) | %.3f ms |".format(median(fromKotlin) - median(inRust)))
        println("| FFI overhead per decode (copy) | %.3f ms |".format(median(fromKotlinCopy) - median(inRust)))
    }
}
