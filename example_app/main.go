// Command example_app is the oauthkit demo site. It is not built yet.
package main

import "fmt"

func main() { fmt.Println("oauthkit example_app: not built yet") }
