# Sourced by scripts/android-test and scripts/build-apk (from the repository's
# root): one set of versions for the Android shell's tools and libraries, and
# the manifest as the build completes it. No Android SDK: aapt2, zipalign and
# apksigner from Debian; the framework (Robolectric's android-all, API 34),
# JNA and R8 from Maven Central.

APP_ID=org.vaxdesk.app
MIN_SDK=24
TARGET_SDK=34
VERSION_CODE=1
VERSION_NAME=0.1.0
# One JNA for the JVM tests, the APK and the Gradle build (android/app/build.gradle.kts).
JNA_VERSION=5.19.1
R8_VERSION=9.5.28
ANDROID_ALL_VERSION=14-robolectric-10818077
M2=${M2:-$HOME/.m2/repository}
AAPT2=/usr/lib/android-sdk/build-tools/debian/aapt2

android_debian_tools() {
    local need=()
    [ -x $AAPT2 ] || need+=(aapt)
    command -v zipalign >/dev/null || need+=(zipalign)
    command -v apksigner >/dev/null || need+=(apksigner)
    command -v zip >/dev/null || need+=(zip)
    command -v unzip >/dev/null || need+=(unzip)
    command -v mvn >/dev/null || need+=(maven)
    if [ ${#need[@]} -gt 0 ]; then
        (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}") >&2
    fi
}

# maven_fetch FILE GROUP:ARTIFACT:VERSION[:PACKAGING] — into the local repository, once.
maven_fetch() {
    [ -f "$1" ] || mvn -q -B -Dmaven.repo.local="$M2" dependency:get -Dartifact="$2" -Dtransitive=false >&2
}

ANDROID_ALL=$M2/org/robolectric/android-all/$ANDROID_ALL_VERSION/android-all-$ANDROID_ALL_VERSION.jar
JNA_JAR=$M2/net/java/dev/jna/jna/$JNA_VERSION/jna-$JNA_VERSION.jar
JNA_AAR=$M2/net/java/dev/jna/jna/$JNA_VERSION/jna-$JNA_VERSION.aar
R8_JAR=$M2/com/android/tools/r8/$R8_VERSION/r8-$R8_VERSION.jar

android_maven_libs() {
    maven_fetch "$ANDROID_ALL" org.robolectric:android-all:$ANDROID_ALL_VERSION
    maven_fetch "$JNA_JAR" net.java.dev.jna:jna:$JNA_VERSION
}

# The manifest as Gradle's merger would hand it to aapt2: the package from the
# namespace (the source manifest has none, as AGP 8 wants).
android_manifest() { # OUT_FILE [extra sed expressions...]
    local out=$1
    shift
    sed -e "s|<manifest |<manifest package=\"$APP_ID\" |" "$@" android/app/src/main/AndroidManifest.xml >"$out"
}

# aapt2 link against API 34 (android-all carries resources.arsc); Debian's
# aapt2 is from Android 10 and warns about a newer table chunk it skips.
android_link() { # MANIFEST OUT_AP_ JAVA_DIR ASSETS_DIR [more aapt2 link args / flat files...]
    local manifest=$1 out=$2 java=$3 assets=$4
    shift 4
    $AAPT2 link -I "$ANDROID_ALL" --manifest "$manifest" \
        --min-sdk-version $MIN_SDK --target-sdk-version $TARGET_SDK \
        --version-code $VERSION_CODE --version-name $VERSION_NAME \
        -A "$assets" --java "$java" -o "$out" "$@" 2> >(grep -v "Unknown chunk type '200'" >&2 || true)
}
