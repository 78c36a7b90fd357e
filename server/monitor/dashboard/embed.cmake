# embed.cmake: turns the dashboard's files into a C++ source holding their bytes, so the binary
# serves the page with no file on disk. Run at build time by the top CMakeLists.txt:
#   cmake -DOUT=<file.cc> -DDIR=<server/monitor/dashboard> -P embed.cmake
# Each *.html, *.css and *.js file of DIR becomes one array named by its base name in kDashboardFiles
# (server/monitor/dashboard_assets.h). A CMake script rather than xxd or a generator program:
# it needs nothing beyond CMake itself.
file(GLOB FILES ${DIR}/*.html ${DIR}/*.css ${DIR}/*.js)
list(SORT FILES)
set(body "")
set(table "")
set(i 0)
foreach(path ${FILES})
  get_filename_component(name ${path} NAME)
  file(READ ${path} hex HEX)
  string(LENGTH "${hex}" hex_len)
  math(EXPR size "${hex_len} / 2")
  string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
  string(APPEND body "const unsigned char kFile${i}[] = {\n    ${bytes}0x00};\n")
  string(APPEND table "    {\"${name}\", kFile${i}, ${size}},\n")
  math(EXPR i "${i} + 1")
endforeach()
set(out "// Generated at build time by server/monitor/dashboard/embed.cmake from\n")
string(APPEND out "// server/monitor/dashboard/: do not edit; edit those files.\n")
string(APPEND out "#include \"server/monitor/dashboard_assets.h\"\n\n")
string(APPEND out "namespace tandem::server {\nnamespace {\n\n${body}\n}  // namespace\n\n")
string(APPEND out "const EmbeddedFile kDashboardFiles[] = {\n${table}};\n")
string(APPEND out "const size_t kDashboardFileCount = ${i};\n\n}  // namespace tandem::server\n")
# Written only when it changed, so an unchanged page does not rebuild the library.
if(EXISTS ${OUT})
  file(READ ${OUT} old)
endif()
if(NOT "${old}" STREQUAL "${out}")
  file(WRITE ${OUT} "${out}")
endif()
