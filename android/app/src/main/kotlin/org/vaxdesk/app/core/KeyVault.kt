package org.vaxdesk.app.core

import android.security.keystore.KeyGenParameterSpec
import android.security.keystore.KeyProperties
import java.io.File
import java.io.IOException
import java.security.GeneralSecurityException
import java.security.KeyStore
import java.security.ProviderException
import javax.crypto.Cipher
import javax.crypto.KeyGenerator
import javax.crypto.SecretKey
import javax.crypto.spec.GCMParameterSpec

/**
 * Keeps the desk database's key (the core derives it from the PIN with
 * Argon2id) wrapped by an AES key that never leaves the platform keystore,
 * so the background sync can open the database while nobody types the PIN.
 * The wrapped file copied off the phone is useless without that keystore;
 * the database copied alone needs the PIN, through Argon2id.
 *
 * Where there is no keystore key (no AndroidKeyStore provider, or the system
 * dropped the key) [load] gives null: the app then opens the database when
 * the PIN is typed, and background sync waits until it has been. The same
 * holds when the keystore itself fails: on cheap phones it throws
 * `ProviderException` and other runtime exceptions from the platform, at
 * any call; none of them may crash the app's start.
 */
class KeyVault(private val file: File, private val wrappingKey: () -> SecretKey?) {
    /** Wrap and keep [key]; false where no keystore key is available. */
    fun store(key: ByteArray): Boolean {
        return try {
            val wrap = wrappingKey() ?: return false
            val cipher = Cipher.getInstance(TRANSFORMATION)
            // The keystore picks the IV itself (it refuses caller IVs for encryption).
            cipher.init(Cipher.ENCRYPT_MODE, wrap)
            val sealed = cipher.doFinal(key)
            val iv = cipher.iv
            val tmp = File(file.path + ".tmp")
            tmp.writeBytes(byteArrayOf(VERSION, iv.size.toByte()) + iv + sealed)
            tmp.renameTo(file) || run { tmp.delete(); false }
        } catch (e: GeneralSecurityException) {
            false
        } catch (e: IOException) {
            false
        } catch (e: RuntimeException) {
            false // ProviderException, IllegalStateException: a failing keystore
        }
    }

    /** The kept key, or null when there is none or it cannot be unwrapped. */
    fun load(): ByteArray? {
        if (!file.exists()) return null
        return try {
            val wrap = wrappingKey() ?: return null
            val b = file.readBytes()
            if (b.size < 2 || b[0] != VERSION) return null
            val ivLen = b[1].toInt()
            if (ivLen !in 12..16 || b.size < 2 + ivLen + TAG_BYTES) return null
            val cipher = Cipher.getInstance(TRANSFORMATION)
            cipher.init(Cipher.DECRYPT_MODE, wrap, GCMParameterSpec(TAG_BYTES * 8, b, 2, ivLen))
            cipher.doFinal(b, 2 + ivLen, b.size - 2 - ivLen)
        } catch (e: GeneralSecurityException) {
            null
        } catch (e: IOException) {
            null
        } catch (e: RuntimeException) {
            null // ProviderException, IllegalStateException: a failing keystore
        }
    }

    /** Forget the kept key (it no longer opens the database). */
    fun clear() {
        file.delete()
    }

    companion object {
        private const val VERSION: Byte = 1
        private const val TAG_BYTES = 16
        private const val TRANSFORMATION = "AES/GCM/NoPadding"
        private const val ALIAS = "vaxdesk-desk-key"

        /**
         * Robolectric has no AndroidKeyStore provider: tests give a software
         * AES key here (or a keystore that throws), which runs the same
         * wrapping code; only where the wrapping key lives differs.
         */
        @Volatile var wrappingKeyForTest: (() -> SecretKey?)? = null

        fun forDevice(file: File) = KeyVault(file) { wrappingKeyForTest?.invoke() ?: androidKeystoreKey() }

        /**
         * The app's AES-256 key in AndroidKeyStore, made on first use. It
         * needs no user authentication: the background sync must use it with
         * the phone in a pocket. Null where the keystore is not there.
         */
        private fun androidKeystoreKey(): SecretKey? = try {
            val ks = KeyStore.getInstance("AndroidKeyStore").apply { load(null) }
            (ks.getKey(ALIAS, null) as? SecretKey) ?: KeyGenerator.getInstance(KeyProperties.KEY_ALGORITHM_AES, "AndroidKeyStore").run {
                init(
                    KeyGenParameterSpec.Builder(ALIAS, KeyProperties.PURPOSE_ENCRYPT or KeyProperties.PURPOSE_DECRYPT)
                        .setBlockModes(KeyProperties.BLOCK_MODE_GCM)
                        .setEncryptionPaddings(KeyProperties.ENCRYPTION_PADDING_NONE)
                        .setKeySize(256)
                        .build(),
                )
                generateKey()
            }
        } catch (e: GeneralSecurityException) {
            null
        } catch (e: IOException) {
            null
        } catch (e: ProviderException) {
            null
        } catch (e: IllegalStateException) {
            null
        }
    }
}
