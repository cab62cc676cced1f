# The Debian package of complaintd: `cpack -G DEB` in a build tree.
#
# Included from the top-level CMakeLists.txt. Everything the package adds
# besides the binaries (the unit, sysusers.d and tmpfiles.d entries, the
# configuration, man pages, the copyright and changelog) is in the install
# component `deb`, which is EXCLUDE_FROM_ALL: a plain `cmake --install build`
# still installs complaintd alone and never writes to /etc or /lib/systemd.
#
#   cmake -S . -B build-deb -DCMAKE_BUILD_TYPE=RelWithDebInfo
#   cmake --build build-deb
#   (cd build-deb && cpack -G DEB)       # -> build-deb/complaintd_<version>_<arch>.deb
#
# deploy/package.sh does that with Debian's hardening flags, runs lintian and
# tests installing, upgrading, removing and purging the package.
#
# The package installs the service but neither enables nor starts it, on
# installation or on upgrade (the maintainer scripts in this directory say
# why); docs/operations.md has the steps after installing.

set(COMPLAINTD_DEB_DIR ${CMAKE_CURRENT_LIST_DIR})
set(COMPLAINTD_DEB_OUT ${CMAKE_BINARY_DIR}/deb)
set(COMPLAINTD_DEB_MAINTAINER "complaintd maintainers <complaintd@example.com>"
    CACHE STRING "Maintainer field of the Debian package: Name <address>")

# The sources of generated files: a change to any of them re-runs configure.
set_property(DIRECTORY ${CMAKE_SOURCE_DIR} APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS
             ${CMAKE_SOURCE_DIR}/deploy/complaintd.service
             ${CMAKE_SOURCE_DIR}/deploy/complaintd.conf.example
             ${CMAKE_SOURCE_DIR}/deploy/man/complaintd.8
             ${CMAKE_SOURCE_DIR}/deploy/man/complaintctl.1
             ${COMPLAINTD_DEB_DIR}/changelog.in)
file(MAKE_DIRECTORY ${COMPLAINTD_DEB_OUT})

# The unit: deploy/complaintd.service with the binary where the package puts
# it (/usr/bin instead of /usr/local/bin), without the from-source install
# steps of its header, with a Documentation= key.
file(READ ${CMAKE_SOURCE_DIR}/deploy/complaintd.service _unit)
string(REGEX REPLACE "# Install:\n(#   [^\n]*\n)+#\n" "" _unit "${_unit}")
string(REPLACE "/usr/local/bin/complaintd" "/usr/bin/complaintd" _unit "${_unit}")
# `systemctl help complaintd` opens complaintd(8).
if(NOT _unit MATCHES "\nDocumentation=")
  string(REGEX REPLACE "\n(Description=[^\n]*\n)" "\n\\1Documentation=man:complaintd(8)\n" _unit "${_unit}")
endif()
if(NOT _unit MATCHES "ExecStart=/usr/bin/complaintd ")
  message(WARNING "deploy/debian/package.cmake: deploy/complaintd.service does not start "
                  "/usr/local/bin/complaintd any more; check the packaged unit")
endif()
file(WRITE ${COMPLAINTD_DEB_OUT}/complaintd.service
     "# complaintd's unit, as installed by its Debian package (from deploy/complaintd.service).\n"
     "# Enable it once PostgreSQL and Kafka are configured: `man 8 complaintd`.\n"
     "${_unit}")

# The configuration: the example, with a header for where it now lives. Its
# values are already the defaults of an installation on one host: Kafka on
# 127.0.0.1:9092, PostgreSQL over the local unix socket with peer
# authentication (database and role complaintd), the wall clock.
file(READ ${CMAKE_SOURCE_DIR}/deploy/complaintd.conf.example _conf)
string(CONCAT _header "# complaintd configuration (INI), installed by the complaintd package.\n#\n"
    "# dpkg keeps your changes on upgrades (a conffile). Readable by group\n"
    "# complaintd only: it may hold a password. `man 8 complaintd` has the steps\n"
    "# from here to a running service.\n")
string(REGEX REPLACE "^# complaintd configuration \\(INI\\)\\. Copy to [^\n]*\n" "${_header}" _conf "${_conf}")
file(WRITE ${COMPLAINTD_DEB_OUT}/complaintd.conf "${_conf}")

# Man pages and the changelog, compressed as Debian wants them (gzip -9n:
# no name or time stamp in the header, so the package is reproducible).
string(TIMESTAMP COMPLAINTD_DEB_DATE "%a, %d %b %Y %H:%M:%S +0000" UTC)
configure_file(${COMPLAINTD_DEB_DIR}/changelog.in ${COMPLAINTD_DEB_OUT}/changelog @ONLY)
foreach(_f deploy/man/complaintd.8 deploy/man/complaintctl.1 ${COMPLAINTD_DEB_OUT}/changelog)
  get_filename_component(_n ${_f} NAME)
  if(IS_ABSOLUTE ${_f})
    set(_src ${_f})
  else()
    set(_src ${CMAKE_SOURCE_DIR}/${_f})
  endif()
  execute_process(COMMAND gzip -9n -c ${_src} OUTPUT_FILE ${COMPLAINTD_DEB_OUT}/${_n}.gz
                  RESULT_VARIABLE _rc)
  if(NOT _rc EQUAL 0)
    message(FATAL_ERROR "gzip ${_src}: ${_rc}")
  endif()
endforeach()

# ---- what the package holds ------------------------------------------------

set(_c COMPONENT deb EXCLUDE_FROM_ALL)
install(TARGETS complaintd RUNTIME DESTINATION bin ${_c})
install(FILES ${COMPLAINTD_DEB_OUT}/complaintd.service DESTINATION /lib/systemd/system ${_c})
install(FILES ${COMPLAINTD_DEB_DIR}/complaintd.sysusers DESTINATION lib/sysusers.d RENAME complaintd.conf ${_c})
install(FILES ${COMPLAINTD_DEB_DIR}/complaintd.tmpfiles DESTINATION lib/tmpfiles.d RENAME complaintd.conf ${_c})
install(FILES ${COMPLAINTD_DEB_OUT}/complaintd.conf DESTINATION /etc/complaintd ${_c})
install(FILES ${COMPLAINTD_DEB_OUT}/complaintd.8.gz DESTINATION share/man/man8 ${_c})
install(FILES ${COMPLAINTD_DEB_DIR}/copyright ${COMPLAINTD_DEB_OUT}/changelog.gz
        DESTINATION share/doc/complaintd ${_c})
file(GLOB _docs CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/docs/*.md)
install(FILES ${CMAKE_SOURCE_DIR}/README.md ${_docs} DESTINATION share/doc/complaintd ${_c})
install(FILES ${CMAKE_SOURCE_DIR}/deploy/roles.sql DESTINATION share/doc/complaintd/examples ${_c}
        OPTIONAL)

# complaintctl is its own target (another CMakeLists may define it after this
# file is read): checked once the whole top-level directory is configured.
function(complaintd_deb_add_complaintctl)
  if(TARGET complaintctl)
    install(TARGETS complaintctl RUNTIME DESTINATION bin COMPONENT deb EXCLUDE_FROM_ALL)
    install(FILES ${COMPLAINTD_DEB_OUT}/complaintctl.1.gz DESTINATION share/man/man1 COMPONENT deb
            EXCLUDE_FROM_ALL)
  else()
    message(STATUS "Debian package: no target complaintctl, the package holds complaintd alone")
  endif()
endfunction()
cmake_language(DEFER DIRECTORY ${CMAKE_SOURCE_DIR} CALL complaintd_deb_add_complaintctl)

# ---- CPack -------------------------------------------------------------------

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME complaintd)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_PACKAGE_DIRECTORY ${CMAKE_BINARY_DIR})
# Only the component `deb`: the binaries and the files above.
set(CPACK_INSTALL_CMAKE_PROJECTS "${CMAKE_BINARY_DIR};complaintd;deb;/")
set(CPACK_STRIP_FILES ON)
set(CPACK_PACKAGE_CONTACT "${COMPLAINTD_DEB_MAINTAINER}")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "complaint desk SLA and alerting daemon (Kafka, PostgreSQL)")
# CPack puts the summary above this, as the synopsis.
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION
    "complaintd consumes complaint events and parcel scans from Kafka, runs a
state machine per complaint ticket, computes every SLA deadline in business
time and publishes SLA, bulk-complaint, repeat-complaint, escalation and
stalled-parcel alerts to a Kafka topic. All state lives in PostgreSQL; bad
input goes to a dead-letter topic.
.
The package installs the daemon, its systemd unit (not enabled), the service
user and a configuration in /etc/complaintd. Set up PostgreSQL and Kafka,
run `complaintd migrate`, then enable the service: see complaintd(8).")
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "${COMPLAINTD_DEB_MAINTAINER}")
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
# Shared libraries through dpkg-shlibdeps, plus what the maintainer scripts
# run (systemd-sysusers; the same alternatives dh_installsysusers names).
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "systemd | systemd-standalone-sysusers | systemd-sysusers")
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "postgresql, postgresql-client")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${COMPLAINTD_DEB_DIR}/conffiles ${COMPLAINTD_DEB_DIR}/postinst ${COMPLAINTD_DEB_DIR}/prerm
    ${COMPLAINTD_DEB_DIR}/postrm)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
include(CPack)
