package config_test

import (
	"fmt"

	"github.com/collision-detection-platform/distributed-platform/host/config"
)

func ExampleDefault() {
	c := config.Default()
	fmt.Println(c.API.Port, c.Compute.ProcessingInterval, c.CollisionDetection.Classes["default"])
	// Output: 8080 100ms {50 25 0 0 0s}
}

func ExampleLoad() {
	_, err := config.Load(config.Sources{
		NoEnv: true,
		Overrides: []config.Override{
			{Key: "grid.min_size", Value: "-5", Source: "flag --set"},
			{Key: "collision_detection.classes.aviation.horizontal", Value: "9260", Source: "flag --class"},
			{Key: "collision_detection.classes.aviation.vertical", Value: "304.8", Source: "flag --class"},
		},
	})
	fmt.Println(err)
	// Output:
	// config: flag --set: grid.min_size: must be > 0, got -5
	// config: flag --class: collision_detection.classes.aviation: protected zone reaches 9265.0 m (sqrt(horizontal^2 + vertical^2)), beyond collision_detection.max_distance 200 m: raise collision_detection.max_distance to at least 9266 or shrink the class
}

func ExampleEnvName() {
	fmt.Println(config.EnvName("api.port"))
	fmt.Println(config.EnvName("collision_detection.max_distance"))
	// Output:
	// CDP_API_PORT
	// CDP_COLLISION_DETECTION_MAX_DISTANCE
}
