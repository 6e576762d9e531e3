package org.vaxdesk.app

import java.io.File
import java.security.ProviderException
import java.time.Duration
import org.junit.Assert.assertEquals
import org.junit.Assert.assertFalse
import org.junit.Assert.assertTrue
import org.junit.Test
import org.junit.runner.RunWith
import org.robolectric.RobolectricTestRunner
import org.robolectric.Shadows.shadowOf
import org.vaxdesk.app.core.CoreGateway
import org.vaxdesk.app.core.KeyVault
import org.vaxdesk.core.Desk
import org.vaxdesk.core.PinLock
import org.vaxdesk.core.VaxdeskException

/**
 * The PIN and the encrypted database: the lock on start and after five
 * minutes away, lockouts, the keystore-kept key for the background sync
 * (and a keystore that fails), a PIN change that re-keys, a damaged
 * database set aside instead of crashing.
 */
@RunWith(RobolectricTestRunner::class)
class PinAndStorageTest : Shell() {
    private fun pending(core: CoreGateway = app.core) = core.withDesk { it.queue() }.pending

    private fun assertThrowsStorage(work: () -> Unit): String = try {
        work()
        throw AssertionError("expected a storage error")
    } catch (e: VaxdeskException.Storage) {
        e.code
    }

    @Test fun pinLocksOnStartLocksOutAfterFiveWrongAndAfterFiveMinutesAway() {
        enrollThroughTheScreens()
        // A new start of the app asks for the PIN.
        app.state.unlocked = false
        controller.pause().stop(); controller.restart().resume(); idle()
        assertEquals("pin", screen())
        type("pin", PIN); tap("pin-ok")
        assertEquals("scan", screen())

        // Four minutes away: still open. Five: locked.
        controller.pause().stop()
        shadowOf(android.os.Looper.getMainLooper()).idleFor(Duration.ofMinutes(4))
        controller.restart().resume(); idle()
        assertEquals("scan", screen())
        controller.pause().stop()
        shadowOf(android.os.Looper.getMainLooper()).idleFor(Duration.ofMinutes(5))
        controller.restart().resume(); idle()
        assertEquals("pin", screen())
        activity.onBackPressed(); idle()
        assertEquals("the lock cannot be backed out of", "pin", screen())

        for (left in 4 downTo 1) {
            type("pin", "1111"); tap("pin-ok")
            assertEquals("Sai mã PIN. Còn $left lần thử.", text("pin-message"))
        }
        type("pin", "1111"); tap("pin-ok")
        assertTrue(text("pin-message"), text("pin-message").startsWith("Nhập sai quá nhiều lần"))
        type("pin", PIN); tap("pin-ok")
        assertEquals("even the right PIN waits out the lockout", "pin", screen())
        assertTrue(text("pin-message").startsWith("Nhập sai quá nhiều lần"))
        assertEquals("the typed PIN is not left in the field", "", find<android.widget.EditText>("field:pin").text.toString())
        screenshot("11-pin-locked")
    }

    @Test fun theDatabaseOpensWithTheKeystoresKeyForTheBackgroundSyncAndWithThePinWithoutIt() {
        enrollThroughTheScreens()
        scan(KHANH)
        tap("visit-save")
        assertEquals("scan", screen())
        assertEquals(2uL, pending())
        assertTrue(File(files, "desk.key").exists())
        assertFalse(String(File(files, "desk.key").readBytes(), Charsets.ISO_8859_1).contains(PIN))

        // A new process (the sync job after a reboot): the kept key opens the database, no PIN typed.
        val background = CoreGateway.open(app)
        assertTrue(background.openWithoutPin())
        assertEquals(2uL, pending(background))
        background.close()

        // The keystore lost its key (or never had one): the database stays shut until the PIN is typed.
        val other = newWrappingKey()
        KeyVault.wrappingKeyForTest = { other }
        val locked = CoreGateway.open(app)
        assertFalse(locked.openWithoutPin())
        assertFalse(locked.isOpen)
        assertEquals("storage.wrong_key", assertThrowsStorage { locked.unlock("1357".toByteArray()) })
        assertFalse(locked.isOpen)
        locked.unlock(PIN.toByteArray())
        assertEquals(2uL, pending(locked))
        assertTrue("re-wrapped under the keystore's new key", File(files, "desk.key").exists())
        locked.close()
        assertTrue(CoreGateway.open(app).openWithoutPin())
    }

    /**
     * Cheap phones' keystores throw ProviderException (a RuntimeException)
     * at start: the app must not crash on every launch, but ask for the PIN.
     */
    @Test fun aKeystoreThatThrowsAtStartFallsBackToThePin() {
        enrollThroughTheScreens()
        assertTrue("the key was kept while the keystore worked", File(files, "desk.key").exists())
        controller.pause().stop().destroy()
        app.simulateProcessDeath()

        KeyVault.wrappingKeyForTest = { throw ProviderException("Keystore operation failed") }
        launch()
        assertEquals("the PIN opens the database instead", "pin", screen())
        type("pin", PIN); tap("pin-ok")
        assertEquals("scan", screen())
        assertTrue(app.core.isOpen)

        // A keystore that fails only when it is used (unwrapping) is no different.
        controller.pause().stop().destroy()
        app.simulateProcessDeath()
        KeyVault.wrappingKeyForTest = { javax.crypto.spec.SecretKeySpec(ByteArray(5), "AES") } // not a usable AES key
        launch()
        assertEquals("pin", screen())
    }

    @Test fun withoutAKeptKeyTheLockScreenOpensTheDatabase() {
        // A phone enrolled and locked earlier, whose keystore cannot give the key back.
        Desk.open(dbPath, null).use { it.enroll(hub.enrollmentText(), "test phone") }
        PinLock.open(File(files, "pin.json").path).setAndEncrypt(dbPath, PIN.toByteArray())
        assertFalse(File(files, "desk.key").exists())
        launch()
        assertEquals("only the lock screen until the PIN opens the database", "pin", screen())
        assertFalse(app.core.isOpen)
        type("pin", "1357"); tap("pin-ok")
        assertEquals("Sai mã PIN. Còn 4 lần thử.", text("pin-message"))
        assertFalse(app.core.isOpen)
        type("pin", PIN); tap("pin-ok")
        assertEquals("session", screen())
        assertTrue(app.core.isOpen)
        assertTrue("kept for the background sync from now on", File(files, "desk.key").exists())
    }

    @Test fun changingThePinReKeysTheDatabase() {
        enrollThroughTheScreens()
        tap("go-settings")
        tap("settings-pin")
        assertEquals("pin-change", screen())
        type("pin", "1357"); tap("pin-ok") // taken as the current PIN...
        type("pin", "8642"); tap("pin-ok")
        type("pin", "8642"); tap("pin-ok")
        assertEquals("...and refused by the core", "Sai mã PIN. Còn 4 lần thử.", text("pin-message"))
        assertEquals("pin-change", screen())
        type("pin", PIN); tap("pin-ok")
        type("pin", "8642"); tap("pin-ok")
        type("pin", "8642"); tap("pin-ok")
        assertEquals("settings", screen())
        assertTrue(text("settings-message").startsWith("Đã đổi mã PIN"))
        screenshot("16-pin-changed")
        assertEquals(0uL, pending()) // still open, under the new key

        assertEquals("storage.wrong_key", assertThrowsStorage { Desk.open(dbPath, PIN).close() })
        val device = app.core.withDesk { it.deviceId() }
        Desk.open(dbPath, "8642").use { assertEquals(device, it.deviceId()) }
        val later = CoreGateway.open(app)
        assertTrue("the kept key is the new PIN's", later.openWithoutPin())
        later.close()
    }

    @Test fun aDamagedDatabaseShowsTheCoresErrorInsteadOfCrashing() {
        PinLock.open(File(files, "pin.json").path).set(PIN.toByteArray())
        File(dbPath).writeBytes(ByteArray(8192) { 0x42 })
        File("$dbPath-salt").writeBytes(ByteArray(16) { 7 })
        assertTrue(KeyVault.forDevice(File(files, "desk.key")).store(ByteArray(32) { 1 }))
        launch()
        assertEquals("pin", screen())
        assertFalse("a kept key that does not open the file is forgotten", File(files, "desk.key").exists())
        type("pin", "1357"); tap("pin-ok")
        assertEquals("a wrong PIN is only a wrong PIN", "pin", screen())
        type("pin", PIN); tap("pin-ok")
        assertEquals("the right PIN shows the problem", "storage-problem", screen())
        assertTrue(text("storage-message"), text("storage-message").startsWith("Lỗi lưu trữ trên máy (storage."))
        assertTrue("what was on the phone is left as it was", File(dbPath).readBytes().all { it == 0x42.toByte() })
        screenshot("17-storage-problem")

        // Setting it aside takes two taps; the files are moved, never deleted, and the phone enrolls again.
        tap("storage-set-aside")
        assertEquals("storage-problem", screen())
        assertTrue(File(dbPath).exists())
        tap("storage-set-aside")
        assertEquals("enroll", screen())
        val aside = File(files, "set-aside").listFiles().orEmpty().single()
        assertTrue(File(aside, "desk.db").readBytes().all { it == 0x42.toByte() })
        assertTrue(File(aside, "desk.db-salt").exists() && File(aside, "pin.json").exists())
        assertFalse(File(files, "pin.json").exists())
        assertFalse("a fresh database in its place", File(dbPath).readBytes().all { it == 0x42.toByte() })
        assertFalse(app.core.facts!!.pinSet)
    }

    @Test fun aDamagedDatabaseWithoutAPinShowsTheProblemAtOnce() {
        File(dbPath).writeBytes(ByteArray(8192) { 0x42 })
        launch()
        assertEquals("storage-problem", screen())
        assertTrue(text("storage-message"), text("storage-message").startsWith("Lỗi lưu trữ trên máy (storage."))
        tap("storage-set-aside"); tap("storage-set-aside")
        assertEquals("enroll", screen())
        assertTrue(File(File(files, "set-aside").listFiles().orEmpty().single(), "desk.db").exists())
        assertTrue("a fresh desk is open for enrolling", app.core.isOpen && app.core.facts?.enrolled == false)
    }
}
