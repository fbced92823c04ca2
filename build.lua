-- The repository's own recipe: every example, so `dbx build prod` here builds
-- all their production images (and `dbx build` everything).
include "examples/commands/build.lua"
include "examples/lablink/build.lua"
include "examples/strain-seer/build.lua"
include "examples/postura/build.lua"
include "examples/huleedu/build.lua"
include "examples/trades/build.lua"
