# Sourced by build.sh and test.sh: compile through ccache when it is installed, keyed relative to
# this checkout (CCACHE_BASEDIR) so that another clone of the same sources, CI's, reuses the objects.
if command -v ccache > /dev/null; then
  export CCACHE_BASEDIR="$PWD" CCACHE_NOHASHDIR=1
  NIMBLE_LAUNCHER=ccache
else
  NIMBLE_LAUNCHER=
fi
