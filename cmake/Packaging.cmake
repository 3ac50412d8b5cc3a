# The Debian package (CPack DEB) and the install rules of everything that is
# not a build target: man page, bash completion, documentation, examples,
# copyright. The binary's own rule is in src/cli/CMakeLists.txt.
#
#   cmake --build build/release
#   cd build/release && cpack -G DEB -B /tmp/deb     # -> pecbatch_<version>_<arch>.deb
#
# Runtime libraries become Depends through dpkg-shlibdeps (Debian package
# dpkg-dev, in scripts/install-deps). tests/package/test_deb.py builds the
# package, checks its fields and contents, extracts it into a throwaway
# root and runs it there.
#
# Not installed: the simulated provider tools/pec-sandbox (a test tool that
# runs from a source checkout) and anything under tests/.

# --- install rules ---------------------------------------------------------

set(PECBATCH_DOC_DIR "share/doc/pecbatch")
# Modes fixed here, not taken from the checkout (whose umask may be 002).
set(CMAKE_INSTALL_DEFAULT_DIRECTORY_PERMISSIONS
  OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ GROUP_EXECUTE WORLD_READ WORLD_EXECUTE)
set(_pecbatch_exec_mode
  OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ GROUP_EXECUTE WORLD_READ WORLD_EXECUTE)

# Debian's place for the licence: /usr/share/doc/<package>/copyright.
install(FILES "${PROJECT_SOURCE_DIR}/LICENSE"
  DESTINATION "${PECBATCH_DOC_DIR}" RENAME copyright)

install(FILES "${PROJECT_SOURCE_DIR}/README.md" DESTINATION "${PECBATCH_DOC_DIR}")
install(DIRECTORY "${PROJECT_SOURCE_DIR}/docs/"
  DESTINATION "${PECBATCH_DOC_DIR}"
  FILES_MATCHING PATTERN "*.md")

# The example campaign, with the cron and CI examples (their scripts
# executable).
install(DIRECTORY "${PROJECT_SOURCE_DIR}/examples/"
  DESTINATION "${PECBATCH_DOC_DIR}/examples"
  FILE_PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ
  DIRECTORY_PERMISSIONS ${_pecbatch_exec_mode}
  PATTERN "__pycache__" EXCLUDE
  PATTERN "*.pyc" EXCLUDE
  PATTERN "*.sh" PERMISSIONS ${_pecbatch_exec_mode}
  PATTERN "*.py" PERMISSIONS ${_pecbatch_exec_mode})

install(FILES "${PROJECT_SOURCE_DIR}/tools/completion/pecbatch.bash"
  DESTINATION "share/bash-completion/completions" RENAME pecbatch)

# The man page is written by another step and may not exist yet: whether it
# does is decided when installing (also inside cpack), not when configuring.
# gzip -9n: no name and no timestamp in the header, so the package is
# reproducible (what dh_compress does).
install(CODE "
  set(_man \"${PROJECT_SOURCE_DIR}/docs/pecbatch.1\")
  if(EXISTS \"\${_man}\")
    set(_gz \"${PROJECT_BINARY_DIR}/pecbatch.1.gz\")
    execute_process(COMMAND gzip -9n -c \"\${_man}\"
      OUTPUT_FILE \"\${_gz}\" RESULT_VARIABLE _rc)
    if(NOT _rc EQUAL 0)
      message(FATAL_ERROR \"gzip of \${_man} failed: \${_rc}\")
    endif()
    file(INSTALL DESTINATION \"\${CMAKE_INSTALL_PREFIX}/share/man/man1\"
      TYPE FILE PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ
      FILES \"\${_gz}\")
  else()
    message(STATUS \"Not installing the man page: \${_man} does not exist\")
  endif()
")

# --- the Debian package ----------------------------------------------------

set(PECBATCH_PACKAGE_MAINTAINER
  "pecbatch maintainers <maintainers@users.noreply.r-seed-4d7fdad3.example>"
  CACHE STRING "Maintainer field of the Debian package (Name <e-mail>)")

set(CPACK_GENERATOR "DEB")
set(CPACK_PACKAGE_NAME "pecbatch")
set(CPACK_PACKAGE_VERSION "${PROJECT_VERSION}")
set(CPACK_PACKAGE_VENDOR "pecbatch")
set(CPACK_PACKAGE_CONTACT "${PECBATCH_PACKAGE_MAINTAINER}")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "${PROJECT_DESCRIPTION}")
set(CPACK_RESOURCE_FILE_LICENSE "${PROJECT_SOURCE_DIR}/LICENSE")
set(CPACK_PACKAGING_INSTALL_PREFIX "/usr")
# RelWithDebInfo builds carry debug info: ship stripped binaries.
set(CPACK_STRIP_FILES ON)

set(CPACK_DEBIAN_PACKAGE_NAME "pecbatch")
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)      # pecbatch_<version>_<arch>.deb
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "${PECBATCH_PACKAGE_MAINTAINER}")
set(CPACK_DEBIAN_PACKAGE_SECTION "mail")
set(CPACK_DEBIAN_PACKAGE_PRIORITY "optional")
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)       # Depends from the ELF's NEEDED, via dpkg-shlibdeps
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "bash-completion, bsd-mailx | mailutils")
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
# The extended description; CPack puts CPACK_PACKAGE_DESCRIPTION_SUMMARY
# before it as the synopsis, indents it and turns empty lines into " .".
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION "pecbatch sends the same legally binding message (invoices, reminders,
summons) to hundreds or thousands of Italian certified e-mail (PEC)
addresses, one certified message per recipient, through the sender's own
PEC provider, from a shell, a cron job or a CI pipeline.

It reads a CSV, XLSX or XLS contacts file, merges each row into Mustache
templates, checks every message against the provider's limits before
sending, throttles to the provider's quotas, records every step in a
crash-safe SQLite journal, and follows the provider's signed receipts
(accettazione, consegna) back to each recipient, keeping them as evidence.")

include(CPack)
