# Installation and packaging (included by the top-level CMakeLists.txt).
#
# cmake --install build [--prefix P] installs
#   component runtime: bin/ecplan, the man pages ecplan(1) and ecplan-COMMAND(1),
#                      bash and zsh completions, the LICENSE
#   component dev:     lib/libecplan.a, include/ecplan/*.h, lib/pkgconfig/ecplan.pc,
#                      lib/cmake/ecplan/ (find_package(ecplan): ecplan::ecplan)
# cpack (in the build tree) makes a .deb of the runtime component whose
# dependencies are computed by dpkg-shlibdeps from the binary.
include(CMakePackageConfigHelpers)

# Man pages and completions, generated from the binary's own help texts.
set(ECPLAN_DOCS_DIR ${CMAKE_BINARY_DIR}/docs)
add_custom_command(
  OUTPUT ${ECPLAN_DOCS_DIR}/stamp
  COMMAND ${CMAKE_COMMAND} -E env ASAN_OPTIONS=detect_leaks=0
          bash ${CMAKE_SOURCE_DIR}/scripts/gen-docs.sh $<TARGET_FILE:ecplan> ${ECPLAN_DOCS_DIR}
  COMMAND ${CMAKE_COMMAND} -E touch ${ECPLAN_DOCS_DIR}/stamp
  DEPENDS ecplan ${CMAKE_SOURCE_DIR}/scripts/gen-docs.sh
  COMMENT "Generating man pages and completions from ecplan's help texts"
  VERBATIM)
add_custom_target(ecplan_docs ALL DEPENDS ${ECPLAN_DOCS_DIR}/stamp)

install(TARGETS ecplan RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT runtime)
install(DIRECTORY ${ECPLAN_DOCS_DIR}/man/ DESTINATION ${CMAKE_INSTALL_MANDIR}/man1
        COMPONENT runtime FILES_MATCHING PATTERN "*.1")
install(FILES ${ECPLAN_DOCS_DIR}/completions/ecplan.bash
        DESTINATION ${CMAKE_INSTALL_DATADIR}/bash-completion/completions RENAME ecplan COMPONENT runtime)
install(FILES ${ECPLAN_DOCS_DIR}/completions/_ecplan
        DESTINATION ${CMAKE_INSTALL_DATADIR}/zsh/vendor-completions COMPONENT runtime)
install(FILES ${CMAKE_SOURCE_DIR}/LICENSE ${CMAKE_SOURCE_DIR}/README.md
        DESTINATION ${CMAKE_INSTALL_DOCDIR} COMPONENT runtime)

install(TARGETS libecplan EXPORT ecplanTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT dev)
install(DIRECTORY ${CMAKE_SOURCE_DIR}/include/ecplan DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
        COMPONENT dev FILES_MATCHING PATTERN "*.h")
install(EXPORT ecplanTargets NAMESPACE ecplan:: DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/ecplan
        COMPONENT dev)
configure_package_config_file(${CMAKE_SOURCE_DIR}/cmake/ecplanConfig.cmake.in
  ${CMAKE_BINARY_DIR}/ecplanConfig.cmake INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/ecplan)
write_basic_package_version_file(${CMAKE_BINARY_DIR}/ecplanConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_BINARY_DIR}/ecplanConfig.cmake ${CMAKE_BINARY_DIR}/ecplanConfigVersion.cmake
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/ecplan COMPONENT dev)
# The .pc file finds the prefix from its own place, so --prefix at install time works.
file(RELATIVE_PATH ECPLAN_PC_TO_PREFIX /${CMAKE_INSTALL_LIBDIR}/pkgconfig /)
string(REGEX REPLACE "/$" "" ECPLAN_PC_TO_PREFIX "${ECPLAN_PC_TO_PREFIX}")
configure_file(${CMAKE_SOURCE_DIR}/cmake/ecplan.pc.in ${CMAKE_BINARY_DIR}/ecplan.pc @ONLY)
install(FILES ${CMAKE_BINARY_DIR}/ecplan.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig COMPONENT dev)

# ---- the .deb ------------------------------------------------------------------
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME ecplan)
set(CPACK_PACKAGE_VENDOR "the ecplan authors")
set(CPACK_PACKAGE_CONTACT "the ecplan authors <ecplan@example.invalid>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "zero-downtime PostgreSQL column changes as expand-contract plans")
set(CPACK_RESOURCE_FILE_LICENSE ${CMAKE_SOURCE_DIR}/LICENSE)
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_ALL runtime)
set(CPACK_DEBIAN_RUNTIME_PACKAGE_NAME ecplan)
set(CPACK_DEBIAN_RUNTIME_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_RUNTIME_PACKAGE_SECTION database)
# Depends: from the binary's shared libraries (libpq5, libjansson4, libcurl4,
# libssl3, libc6; the t64 names on Debian 13), as dpkg-shlibdeps finds them.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "postgresql-client")
include(CPack)
