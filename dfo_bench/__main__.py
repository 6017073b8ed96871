from dfo_bench.cli import main

main()
