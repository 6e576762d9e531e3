package org.vaxdesk.app

import android.Manifest
import android.app.Activity
import android.content.Intent
import android.content.pm.PackageManager
import android.graphics.Bitmap
import android.graphics.Canvas
import android.graphics.ImageFormat
import android.graphics.SurfaceTexture
import android.hardware.camera2.CameraCharacteristics
import android.hardware.camera2.CameraManager
import android.hardware.camera2.CaptureRequest
import android.media.Image
import android.os.Handler
import android.os.Looper
import android.util.Size
import android.view.TextureView
import android.view.View
import android.widget.EditText
import android.widget.TextView
import java.io.File
import java.io.FileOutputStream
import java.nio.ByteBuffer
import java.nio.file.Files
import java.util.concurrent.Executor
import org.junit.After
import org.junit.AfterClass
import org.junit.Before
import org.junit.BeforeClass
import org.robolectric.Robolectric
import org.robolectric.Shadows.shadowOf
import org.robolectric.android.controller.ActivityController
import org.robolectric.annotation.Config
import org.robolectric.annotation.GraphicsMode
import org.robolectric.shadow.api.Shadow
import org.robolectric.shadows.ShadowCameraCharacteristics
import org.robolectric.shadows.ShadowCameraManager
import org.robolectric.shadows.StreamConfigurationMapBuilder
import org.robolectric.util.ReflectionHelpers
import org.vaxdesk.app.core.CoreGateway
import org.vaxdesk.app.core.KeyVault
import org.vaxdesk.app.scan.ScanScreen
import org.vaxdesk.testkit.Hub
import org.vaxdesk.testkit.luma
import org.vaxdesk.testkit.render

/**
 * What every test of the shell shares: a real hub process (per class), the
 * activity driven through its lifecycle by Robolectric with the real core
 * library, and the volunteer's gestures (tap, type, scan with the camera).
 *
 * Core calls run at once on the test's thread (both lanes) and their results
 * come back through the main looper, as on a phone; tests that need real
 * threads (a slow sync beside a save) or calls held back (a late result) set
 * their own lanes before launching.
 */
@Config(sdk = [34], qualifiers = "w360dp-h740dp-xhdpi", shadows = [Sdk34CameraDevice::class])
@GraphicsMode(GraphicsMode.Mode.NATIVE)
abstract class Shell {
    companion object {
        /** A man's chip-ID card (Hà Nội, born 1990). */
        const val NAM = "001090012345||Lê Văn Nam|15061990|Nam|Ba Đình, Hà Nội|01022022"
        /** A woman's chip-ID card (Hà Nội, born 1985). */
        const val NGA = "001185004567||Đỗ Thị Nga|11111985|Nữ|Cầu Giấy, Hà Nội|02022022"
        /** A woman's chip-ID card (Hồ Chí Minh City, born 1985). */
        const val THU = "079185001234||Phạm Thị Thu|20031985|Nữ|Quận 3, TP Hồ Chí Minh|05052021"
        /** Born 2004: his first Abdala dose, at 17, was given in Cần Thơ. */
        const val AYUN = "066204001111||Y Bình Ayun|01032004|Nam|Buôn Ma Thuột, Đắk Lắk|10052021"
        /** A young man's chip-ID card (Hà Nội, born 2000). */
        const val KHANH = "001200009999||Vũ Văn Khánh|01012000|Nam|Hà Đông, Hà Nội|03032023"
        const val PIN = "2468"
        lateinit var dir: File
        lateinit var hub: Hub

        @BeforeClass @JvmStatic fun startHub() {
            dir = Files.createTempDirectory("vaxdesk-shell").toFile()
            hub = Hub(dir)
        }

        @AfterClass @JvmStatic fun stopHub() {
            hub.close()
            dir.deleteRecursively()
        }

        /** Results through the main looper, calls at once on the caller's thread. */
        fun inlineLanes(): CoreGateway.Lanes {
            val now = Executor { it.run() }
            val main = Handler(Looper.getMainLooper())
            return CoreGateway.Lanes(work = now, sync = now, main = Executor { main.post(it) })
        }
    }

    lateinit var controller: ActivityController<MainActivity>
    val activity: MainActivity get() = controller.get()
    val root: View get() = activity.window.decorView
    val app: VaxdeskApp get() = org.robolectric.RuntimeEnvironment.getApplication() as VaxdeskApp
    val files: File get() = app.filesDir
    val dbPath: String get() = File(files, "desk.db").path

    @Before fun setUpShell() {
        CoreGateway.lanesForTest = inlineLanes()
        shadowOf(app).grantPermissions(Manifest.permission.CAMERA)
        // Robolectric has no AndroidKeyStore: a software AES key goes through the same wrapping code.
        val key = newWrappingKey()
        KeyVault.wrappingKeyForTest = { key }
    }

    /** Robolectric 4.17 keeps every camera it opened for a reset that cannot handle our shadow. */
    @After fun forgetCameras() {
        ReflectionHelpers.getStaticField<MutableSet<*>>(ShadowCameraManager::class.java, "createdCameras").clear()
        ReflectionHelpers.setStaticField(ShadowCameraManager::class.java, "lastDevice", null)
        if (::controller.isInitialized) {
            runCatching { controller.pause().stop().destroy() }
        }
    }

    fun newWrappingKey(): javax.crypto.SecretKey = javax.crypto.KeyGenerator.getInstance("AES").apply { init(256) }.generateKey()

    fun launch() {
        controller = Robolectric.buildActivity(MainActivity::class.java).setup()
        idle()
    }

    fun idle() = shadowOf(Looper.getMainLooper()).idle()

    fun <T : View> find(tag: String): T {
        idle()
        @Suppress("UNCHECKED_CAST")
        return checkNotNull(root.findViewWithTag<View>(tag) as T?) { "no view tagged $tag on ${activity.current?.name}" }
    }

    fun tap(tag: String) {
        find<View>(tag).performClick()
        idle()
    }

    fun type(key: String, text: String) = find<EditText>("field:$key").setText(text)
    fun text(tag: String) = find<TextView>(tag).text.toString()
    fun visible(tag: String) = root.findViewWithTag<View>(tag)?.visibility == View.VISIBLE
    fun screen(): String? = activity.current?.name

    /** The texts of every view tagged [tag] (list rows). */
    fun rowTexts(tag: String): List<String> {
        idle()
        val out = ArrayList<String>()
        fun walk(v: View) {
            if (v.tag == tag && v is TextView) out.add(v.text.toString())
            if (v is android.view.ViewGroup) for (i in 0 until v.childCount) walk(v.getChildAt(i))
        }
        walk(root)
        return out
    }

    fun screenshot(name: String) {
        idle()
        val out = System.getProperty("vaxdesk.screenshots") ?: return
        val v = root
        val bmp = Bitmap.createBitmap(v.width, v.height, Bitmap.Config.ARGB_8888)
        v.draw(Canvas(bmp))
        File(out).mkdirs()
        FileOutputStream(File(out, "android-$name.png")).use { bmp.compress(Bitmap.CompressFormat.PNG, 100, it) }
    }

    // ---- the camera ------------------------------------------------------------------

    /** A back camera as a phone's: 1280x720 frames, continuous focus, a flash. */
    fun addBackCamera(flash: Boolean = true) {
        val chars = ShadowCameraCharacteristics.newCameraCharacteristics()
        val sc: ShadowCameraCharacteristics = Shadow.extract(chars)
        sc.set(CameraCharacteristics.LENS_FACING, CameraCharacteristics.LENS_FACING_BACK)
        sc.set(CameraCharacteristics.SENSOR_ORIENTATION, 90)
        sc.set(
            CameraCharacteristics.SCALER_STREAM_CONFIGURATION_MAP,
            StreamConfigurationMapBuilder.newBuilder()
                .addOutputSize(ImageFormat.YUV_420_888, Size(1920, 1080))
                .addOutputSize(ImageFormat.YUV_420_888, Size(1280, 720))
                .addOutputSize(ImageFormat.YUV_420_888, Size(640, 480))
                .addOutputSize(Size(1920, 1080))
                .addOutputSize(Size(1280, 720))
                .build(),
        )
        sc.set(CameraCharacteristics.FLASH_INFO_AVAILABLE, flash)
        sc.set(CameraCharacteristics.CONTROL_AF_AVAILABLE_MODES, intArrayOf(CaptureRequest.CONTROL_AF_MODE_AUTO, CaptureRequest.CONTROL_AF_MODE_CONTINUOUS_PICTURE))
        shadowOf(app.getSystemService(CameraManager::class.java)).addCamera("0", chars)
    }

    val scanScreen: ScanScreen get() = activity.current as ScanScreen

    /**
     * The preview's surface appears, as it does on a phone once the view is
     * laid out (Robolectric's TextureView never makes one by itself).
     */
    fun previewAppears() {
        val tv = find<TextureView>("scan-preview")
        if (tv.isAvailable) return
        val st = SurfaceTexture(0).apply { setDefaultBufferSize(1280, 720) }
        tv.setSurfaceTexture(st)
        tv.surfaceTextureListener?.onSurfaceTextureAvailable(st, tv.width, tv.height)
        cameraSettles()
    }

    /** Wait for what the camera thread was asked (open, configure, frames), then for the main thread. */
    fun cameraSettles(feed: org.vaxdesk.app.scan.CameraFeed? = (activity.current as? ScanScreen)?.feedForTest) {
        repeat(3) {
            val f = feed ?: (activity.current as? ScanScreen)?.feedForTest
            if (f != null && f.looperForTest.thread.isAlive) runCatching { shadowOf(f.looperForTest).idle() }
            idle()
        }
    }

    /** A picture of [text] as the camera's Y plane, in a direct buffer as camera2 gives it. */
    fun frameOf(text: String, w: Int = 640, h: Int = 480): Triple<ByteBuffer, Int, Int> {
        val (pixels, fw, fh) = luma(render(text, dir, w, h))
        val buf = ByteBuffer.allocateDirect(pixels.size).put(pixels)
        buf.flip()
        return Triple(buf, fw, fh)
    }

    /** Hold a code up to the running camera: its frame goes through the camera thread's frame path. */
    fun scan(text: String) {
        if (scanScreen.feedForTest == null) previewAppears()
        val feed = checkNotNull(scanScreen.feedForTest) { "the camera is not running on ${screen()}" }
        val (buf, w, h) = frameOf(text)
        // The gate drops frames closer than 150 ms: let the clock move on.
        shadowOf(Looper.getMainLooper()).idleFor(java.time.Duration.ofMillis(200))
        feed.feedForTest(FakeYuvImage(w, h, buf, w))
        cameraSettles(feed)
    }

    // ---- the permission dialog -------------------------------------------------------

    /** Answer the system's permission dialog for the camera, as the volunteer would. */
    fun answerCameraPermission(grant: Boolean, dontAskAgain: Boolean = false) {
        val request = checkNotNull(shadowOf(activity).nextStartedActivityForResult) { "no permission was asked" }
        val pm = shadowOf(app.packageManager)
        if (grant) shadowOf(app).grantPermissions(Manifest.permission.CAMERA) else shadowOf(app).denyPermissions(Manifest.permission.CAMERA)
        pm.setShouldShowRequestPermissionRationale(Manifest.permission.CAMERA, !grant && !dontAskAgain)
        shadowOf(activity).receiveResult(
            request.intent,
            Activity.RESULT_OK,
            Intent()
                .putExtra(PackageManager.EXTRA_REQUEST_PERMISSIONS_NAMES, arrayOf(Manifest.permission.CAMERA))
                .putExtra(PackageManager.EXTRA_REQUEST_PERMISSIONS_RESULTS, intArrayOf(if (grant) PackageManager.PERMISSION_GRANTED else PackageManager.PERMISSION_DENIED)),
        )
        idle()
    }

    // ---- the volunteer's first minutes ------------------------------------------------

    /** Enroll, set the PIN and start an AZ session through the screens, the camera granted and present. */
    fun enrollThroughTheScreens(shots: Boolean = false) {
        addBackCamera()
        launch()
        check(screen() == "enroll") { "started on ${screen()}" }
        if (shots) screenshot("01-enroll")
        type("code", hub.enrollmentText())
        tap("enroll-go")
        check(screen() == "pin-set") { "after enrolling: ${screen()} ${root.findViewWithTag<TextView>("enroll-message")?.text}" }
        if (shots) screenshot("02-pin-set")
        type("pin", PIN); tap("pin-ok")
        type("pin", PIN); tap("pin-ok")
        check(screen() == "session") { "after the PIN: ${screen()}" }
        tap("vaccine=AZ")
        if (shots) screenshot("03-session")
        tap("session-start")
        check(screen() == "scan")
        previewAppears()
    }
}

/** A camera frame as camera2 hands it over: the Y plane first, with its row stride. */
class FakeYuvImage(private val w: Int, private val h: Int, luma: ByteBuffer, rowStride: Int) : Image() {
    private val planes = arrayOf<Image.Plane>(
        FakePlane(luma, rowStride, 1),
        FakePlane(ByteBuffer.allocateDirect(rowStride * h / 2), rowStride, 2),
        FakePlane(ByteBuffer.allocateDirect(rowStride * h / 2), rowStride, 2),
    )
    @Volatile var closed = false
    override fun getFormat() = ImageFormat.YUV_420_888
    override fun getWidth() = w
    override fun getHeight() = h
    override fun getTimestamp() = 0L
    override fun getTransform() = 0
    override fun getScalingMode() = 0
    override fun getPlanes() = planes
    override fun close() { closed = true }
}

class FakePlane(private val buf: ByteBuffer, private val rowStride: Int, private val pixelStride: Int) : Image.Plane() {
    override fun getRowStride() = rowStride
    override fun getPixelStride() = pixelStride
    override fun getBuffer(): ByteBuffer = buf
}
