# `cmake --install build --prefix P`: the public headers, libnimble.so, the `nimble` command and a
# CMake package, so that a project outside this tree does find_package(nimble) and links
# nimble::nimble.
include(CMakePackageConfigHelpers)
set(NIMBLE_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/nimble)

install(TARGETS nimble EXPORT nimbleTargets
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(TARGETS nimble_cli RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(DIRECTORY include/nimble DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(EXPORT nimbleTargets NAMESPACE nimble:: DESTINATION ${NIMBLE_CMAKE_DIR})

configure_package_config_file(cmake/nimbleConfig.cmake.in ${CMAKE_CURRENT_BINARY_DIR}/nimbleConfig.cmake
  INSTALL_DESTINATION ${NIMBLE_CMAKE_DIR})
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/nimbleConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/nimbleConfig.cmake ${CMAKE_CURRENT_BINARY_DIR}/nimbleConfigVersion.cmake
  DESTINATION ${NIMBLE_CMAKE_DIR})
