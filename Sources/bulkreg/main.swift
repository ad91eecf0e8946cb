print("bulkreg")
