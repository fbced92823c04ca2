-- A small command graph: two independent steps feed a report.
-- Try: dbx build, edit src/numbers.txt, dbx explain report, dbx build.

target "words" {
  desc = "count the words of every text file",
  inputs = { "src/words.txt" },
  run = { "sh", "-c", "wc -w < src/words.txt > out/words.count" },
  outputs = { "out/words.count" },
}

target "sum" {
  desc = "add up the numbers",
  inputs = { "src/numbers.txt" },
  run = { "awk", "{ s += $1 } END { print s > \"out/sum.txt\" }", "src/numbers.txt" },
  outputs = { "out/sum.txt" },
}

target "report" {
  desc = "one line from both results",
  deps = { "words", "sum" },
  inputs = { "out/words.count", "out/sum.txt" },
  run = { "sh", "-c", 'printf "words: %s, sum: %s\\n" "$(cat out/words.count)" "$(cat out/sum.txt)" | tee out/report.txt' },
  outputs = { "out/report.txt" },
}

group "commands" { "report" }
