// The APK build, for machines with the Android SDK and NDK (see scripts/build-apk).
// Not run on the machines this project is developed and tested on: there the
// shell is compiled and tested on the JVM by scripts/android-test.
pluginManagement {
    repositories {
        google()
        mavenCentral()
        gradlePluginPortal()
    }
}
dependencyResolutionManagement {
    repositories {
        google()
        mavenCentral()
    }
}
rootProject.name = "vaxdesk"
include(":app")
