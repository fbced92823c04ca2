-- The repository's own recipe: every example, so `dbx build` here builds them all.
include "examples/commands/build.lua"
include "examples/lablink/build.lua"
