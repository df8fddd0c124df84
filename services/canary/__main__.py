from services.canary.main import main

main()
