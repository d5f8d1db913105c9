Console.WriteLine("sharplens");
